"""Workers: images/s per trial and in total when K worker processes share one device.

The same grid of trials runs as one study with ``cnn-search run --workers K``
for each K: on a machine with a GPU, K trials share GPU 0 (``--gpus 0
--trials-per-gpu K``); without one, K CPU workers divide the cores. Per-trial
throughput (training images per second of each trial's ``fit``) shows what
sharing costs each trial; total throughput (all trials' training images over
the span from the first trial's start to the last one's end, so the workers'
TensorFlow imports are left out) shows what it buys the study. Every K runs
the same trials, so the ratios to K = 1 compare like with like.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .console import TIMEOUT_S, console_command
from .records import Context, Recorder, ratio
from .settings import BenchSettings
from .timing import median

SPACE = """
study = "bench-workers"
variant = "cnn"
engine = "optuna"
seed = {seed}
epochs = {epochs}
batch_size = 64

[fixed]
blocks = 2
dense_units = 32

[search]
filters_1 = {filters}

[optuna]
sampler = "grid"

[data]
subset = {subset}
{test_subset}
"""


def run_workers(settings: BenchSettings, context: Context | None = None) -> list[dict[str, Any]]:
    """Run the same study once per worker count in ``settings.workers``; return the CSV rows."""
    from ..workers.devices import detect_gpus

    context = context or Context.capture(settings.command)
    gpus = detect_gpus()
    measured = {k: _measure(settings, k, bool(gpus)) for k in settings.workers}
    return _rows(settings, context, measured, "gpu:0" if gpus else "cpu")


def _space_text(settings: BenchSettings) -> str:
    if settings.subset is None:
        raise ConfigError("the workers benchmark needs --subset (it trains every trial K times over)")
    filters = list(range(16, 16 + settings.worker_trials))
    test = f"test_subset = {settings.test_subset}" if settings.test_subset else ""
    return SPACE.format(seed=settings.seed, epochs=settings.epochs, filters=filters, subset=settings.subset,
                        test_subset=test)


def _measure(settings: BenchSettings, workers: int, gpu: bool) -> dict[str, Any]:
    """One ``run --workers K`` of the grid: wall time and each trial's (images, seconds, span)."""
    import optuna

    from ..storages import open_storage

    with tempfile.TemporaryDirectory(prefix="cnn-search-bench-") as tmp:
        space = Path(tmp) / "workers.toml"
        space.write_text(_space_text(settings))
        argv = [*console_command(), "run", str(space), "--workers", str(workers), "--results-dir", tmp]
        argv += ["--gpus", "0", "--trials-per-gpu", str(workers)] if gpu else []
        argv += ["--data-dir", str(settings.data_dir)] if settings.data_dir else []
        start = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT_S * 3, check=False)
        wall = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()[-500:]}")
        study = optuna.load_study(study_name="bench-workers", storage=open_storage(None, "bench-workers", tmp))
        trials = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    runs = [{"images": t.user_attrs["image_epochs"], "seconds": t.user_attrs["training_time_s"],
             "start": t.datetime_start.timestamp(), "end": t.datetime_complete.timestamp()} for t in trials]
    return {"wall": wall, "runs": runs, "trials": len(trials)}


def _rows(settings: BenchSettings, context: Context, measured: dict[int, dict[str, Any]],
          device: str) -> list[dict[str, Any]]:
    rec = Recorder(context, "workers", {"seed": settings.seed, "subset": settings.subset, "epochs": settings.epochs,
                                        "batch_size": 64, "repeats": 1})
    base: dict[str, float] = {}
    for k, m in measured.items():
        runs = m["runs"]
        per_trial = median([r["images"] / r["seconds"] for r in runs])
        span = max(r["end"] for r in runs) - min(r["start"] for r in runs)
        total = sum(r["images"] for r in runs) / span
        engine = f"{k} worker{'s' if k > 1 else ''} on {device}"
        base = base or {"per_trial": per_trial, "total": total}
        detail = {"workers": k, "device": device, "trials": m["trials"], "wall_s": m["wall"], "span_s": span,
                  "per_trial_images_per_s": [r["images"] / r["seconds"] for r in runs]}
        rec.add("per_trial_images_per_s", per_trial, "images/s", variant="cnn", engine=engine,
                ratio=ratio(per_trial, base["per_trial"]), baseline=f"{min(measured)} worker", detail=detail)
        rec.add("total_images_per_s", total, "images/s", variant="cnn", engine=engine,
                ratio=ratio(total, base["total"]),
                baseline=f"{min(measured)} worker", detail=detail)
        rec.add("wall_time", m["wall"], "s", variant="cnn", engine=engine,
                detail={"meaning": "run --workers K end to end, worker start-up included"})
    return rec.rows
