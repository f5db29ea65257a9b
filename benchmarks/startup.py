"""Start-up: from launching ``cnn-search run`` to the first trial's first epoch, and where it goes.

A short search is dominated by start-up (importing TensorFlow alone takes
seconds), so this measures it in fresh interpreters, never in the process
that already imported everything: the probe script
(``benchmarks/startup_probe.py``) runs the real ``cnn-search run`` (the
console script's ``search.cli.main``) and marks when Keras has been
imported, when the first trial's ``fit`` starts and when its first epoch
ends; the console script itself is timed end to end on the same command.
Probe and command alternate, ``repeats`` times.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if not __package__:  # `python benchmarks/NAME.py`: import this checkout's packages, not this folder's modules
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from benchmarks.settings import DevSettings
from search.bench.console import TIMEOUT_S, console_command
from search.bench.records import Context, Recorder, ratio
from search.bench.settings import default_space
from search.bench.timing import median, rotations
from search.errors import ConfigError

SPACE = "quickstart.toml"
#: The issue's end-to-end command: ``cnn-search run spaces/quickstart.toml`` + these options.
RUN_ARGS = {"n_trials": 1, "epochs": 1, "subset": 1000, "test_subset": 1000}
#: Probe marks, in order; each phase is the time from the previous mark to this one.
PHASES = (
    ("interpreter", "start", "Python start-up and site packages, before the first line"),
    ("import_cli", "import_cli", "import search.cli (the console script's import)"),
    ("import_backend", "import_backend", "from there to the end of importing Keras and its backend (TensorFlow, ...)"),
    ("setup", "fit_start", "runner and engine imports (Optuna, scikit-learn, pandas), space and budget check, "
                           "storage, data load, study, the trial's parameter count, build and compile"),
    ("first_epoch", "first_epoch", "the first epoch, tracing and validation included"),
)


def run_startup(settings: DevSettings, context: Context | None = None) -> list[dict[str, Any]]:
    """Time ``settings.startup_repeats`` probes and end-to-end commands, alternately; return the CSV rows."""
    context = context or Context.capture(settings.command)
    space = default_space(SPACE)
    if not space.is_file():
        raise ConfigError(f"{space}: no such file (the start-up benchmark runs spaces/{SPACE})")
    command = console_command()
    probes: list[dict[str, float]] = []
    e2e: list[float] = []
    for _, order in rotations(["probe", "command"], settings.startup_repeats):
        for what in order:
            with tempfile.TemporaryDirectory(prefix="cnn-search-bench-") as tmp:
                if what == "probe":
                    probes.append(probe_once(space, Path(tmp), settings.data_dir))
                else:
                    e2e.append(command_once(command, space, Path(tmp), settings.data_dir))
    return _rows(settings, context, probes, e2e, command)


def command_args(space: Path, results_dir: Path, data_dir: Path | None) -> list[str]:
    """``run SPACE --n-trials 1 --epochs 1 --subset 1000 --test-subset 1000 --results-dir DIR``."""
    args = ["run", str(space)]
    for key, value in RUN_ARGS.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    args += ["--results-dir", str(results_dir)]
    return args + (["--data-dir", str(data_dir)] if data_dir else [])


def command_once(command: list[str], space: Path, results_dir: Path, data_dir: Path | None) -> float:
    """Wall seconds of one end-to-end ``cnn-search run``; a failure is an error, not a timing."""
    argv = [*command, *command_args(space, results_dir, data_dir)]
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()[-500:]}")
    return seconds


def probe_once(space: Path, results_dir: Path, data_dir: Path | None) -> dict[str, float]:
    """One fresh interpreter through the probe on the same command; the seconds of each phase plus the total."""
    script = Path(__file__).with_name("startup_probe.py")
    marks_file = results_dir / "startup-marks.json"
    argv = [sys.executable, str(script), str(marks_file), *command_args(space, results_dir, data_dir)]
    launched = time.time()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    if done.returncode != 0 or not marks_file.is_file():
        raise RuntimeError(f"start-up probe failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    marks = json.loads(marks_file.read_text())
    if marks.get("status") != "ok":
        raise RuntimeError(f"start-up probe: {marks.get('status')} (the first trial never trained): "
                           f"{done.stderr.strip()[-500:]}")
    marks["launch"] = launched
    return phases_from_marks(marks)


def phases_from_marks(marks: dict[str, float]) -> dict[str, float]:
    """Seconds per phase (mark minus the previous mark) and ``total`` (launch to first epoch's end)."""
    out: dict[str, float] = {}
    previous = marks["launch"]
    for phase, key, _ in PHASES:
        if key in marks:
            out[phase] = max(marks[key] - previous, 0.0)
            previous = marks[key]
    out["total"] = marks["first_epoch"] - marks["launch"]
    return out


def _rows(settings: DevSettings, context: Context, probes: list[dict[str, float]], e2e: list[float],
          command: list[str]) -> list[dict[str, Any]]:
    rec = Recorder(context, "startup", {"seed": 0, "subset": RUN_ARGS["subset"], "epochs": RUN_ARGS["epochs"],
                                        "repeats": settings.startup_repeats})
    to_first = median([p["total"] for p in probes])
    meaning = {phase: text for phase, _, text in PHASES}
    for phase, _, _ in PHASES:
        runs = [p.get(phase, 0.0) for p in probes]
        rec.add(f"phase_{phase}", median(runs), "s", engine="probe", ratio=ratio(median(runs), to_first),
                baseline="probe time_to_first_epoch", detail={"stat": "median", "runs_s": runs,
                                                              "meaning": meaning[phase]})
    rec.add("time_to_first_epoch", to_first, "s", engine="probe",
            detail={"stat": "median", "runs_s": [p["total"] for p in probes],
                    "meaning": "launch of a fresh interpreter to the end of the first trial's first epoch, "
                               "running cnn-search run"})
    argv = [Path(command[0]).name, *command[1:]]
    rec.add("end_to_end", median(e2e), "s", engine="cnn-search run", ratio=ratio(median(e2e), to_first),
            baseline="probe time_to_first_epoch",
            detail={"stat": "median", "runs_s": e2e,
                    "command": " ".join([*argv, *command_args(Path("spaces") / SPACE, Path("TMP"),
                                                              settings.data_dir)])})
    return rec.rows


if __name__ == "__main__":
    from benchmarks.cli import main_for

    sys.exit(main_for("startup", __package__))
