"""Start-up: from launching ``cnn-search run`` to the first trial's first epoch, and where it goes.

A short search is dominated by start-up (importing TensorFlow alone takes
seconds), so this measures it in fresh interpreters, never in the process
that already imported everything: the probe script
(:mod:`search.bench.startup_probe`) repeats ``cnn-search run``'s steps with a
timestamp after each, and the real console script is timed end to end on
the command the issue names. Probe and command alternate, ``repeats`` times.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .records import Context, Recorder, ratio
from .settings import BenchSettings, default_space
from .timing import median, rotations

SPACE = "quickstart.toml"
#: The issue's end-to-end command: ``cnn-search run spaces/quickstart.toml`` + these options.
RUN_ARGS = {"n_trials": 1, "epochs": 1, "subset": 1000, "test_subset": 1000}
#: Probe marks, in order; each phase is the time from the previous mark to this one.
PHASES = (
    ("interpreter", "start", "Python start-up and site packages, before the first line"),
    ("import_cli", "import_cli", "import search.cli (the console script's import)"),
    ("import_backend", "import_backend", "import Keras and its backend (TensorFlow, ...)"),
    ("import_search", "import_search", "import the runner and engines (Optuna, scikit-learn, scikeras, pandas)"),
    ("space_check", "space_check", "read and validate the space file, budget feasibility (builds models)"),
    ("storage_open", "storage_open", "open the study's journal storage"),
    ("data_load", "data_load", "verify, load and split Fashion-MNIST"),
    ("study_setup", "budget_check_start", "create the study, sample the first trial"),
    ("budget_check", "budget_check", "the trial's parameter count (builds the model without training)"),
    ("model_build", "model_build", "seed, build and compile the trial's model"),
    ("first_epoch", "first_epoch", "the first epoch, tracing and validation included"),
)
TIMEOUT_S = 600


def run_startup(settings: BenchSettings, context: Context | None = None) -> list[dict[str, Any]]:
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


def console_command() -> list[str]:
    """The ``cnn-search`` console script of this environment, else ``python -m search``."""
    script = Path(sys.executable).with_name("cnn-search")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    found = shutil.which("cnn-search")
    return [found] if found else [sys.executable, "-m", "search"]


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
    """One fresh interpreter through the probe; the seconds of each phase plus the total."""
    args = {**RUN_ARGS, "space": str(space), "results_dir": str(results_dir),
            "data_dir": str(data_dir) if data_dir else None}
    script = Path(__file__).with_name("startup_probe.py")
    launched = time.time()
    done = subprocess.run([sys.executable, str(script), json.dumps(args)], capture_output=True, text=True,
                          timeout=TIMEOUT_S, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"start-up probe failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    marks = json.loads(lines[-1])
    if marks.get("status") != "ok":
        raise RuntimeError(f"start-up probe: {marks.get('status')} (the first trial never trained)")
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


def _rows(settings: BenchSettings, context: Context, probes: list[dict[str, float]], e2e: list[float],
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
                               "doing cnn-search run's steps"})
    argv = [Path(command[0]).name, *command[1:]]
    rec.add("end_to_end", median(e2e), "s", engine="cnn-search run", ratio=ratio(median(e2e), to_first),
            baseline="probe time_to_first_epoch",
            detail={"stat": "median", "runs_s": e2e,
                    "command": " ".join([*argv, *command_args(Path("spaces") / SPACE, Path("TMP"),
                                                              settings.data_dir)])})
    return rec.rows
