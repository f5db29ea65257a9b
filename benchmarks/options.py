"""Training options: each ``[training]`` speed setting against the default, on the same run.

The issue asks to check every speed change against the benchmark and keep
what measurably helps. This times one ``train()`` run (the path every trial
takes) of the same variant, data, epochs and seed under each setting, in
alternating rounds, and reports the median wall time as a ratio to the
default settings of the same round set, with the validation accuracy next to
it (a faster setting that learns something else is not the same run).
``mixed_float16`` is only timed where a GPU is visible: it is a GPU feature.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

if not __package__:  # `python benchmarks/NAME.py`: import this checkout's packages, not this folder's modules
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from benchmarks.settings import DevSettings
from search.bench.datasets import bench_dataset
from search.bench.records import Context, Recorder, ratio
from search.bench.timing import median, rotations

#: contender name -> FitOptions fields; "default" is the baseline
CONTENDERS: dict[str, dict[str, Any]] = {
    "default": {},
    "steps_per_execution=8": {"steps_per_execution": 8},
    "steps_per_execution=32": {"steps_per_execution": 32},
    "jit_compile": {"jit_compile": True},
    "mixed_bfloat16": {"precision": "mixed_bfloat16"},
    "mixed_float16": {"precision": "mixed_float16"},
}


def run_options(settings: DevSettings, context: Context | None = None) -> list[dict[str, Any]]:
    """Time ``train()`` under each training option, alternately; return the CSV rows."""
    from search.runtime import freeze_long_lived_objects, import_backend_quietly, visible_gpus

    import_backend_quietly()
    from search.training import FitOptions, TrainConfig, release_memory, train
    from search.zoo import get_variant

    context = context or Context.capture(settings.command)
    variant = get_variant(settings.variant)
    batch_size = settings.batch_size or variant.batch_size
    dataset = bench_dataset(settings, variant.num_classes(variant.resolve({})))
    names = [n for n in CONTENDERS if n != "mixed_float16" or visible_gpus()]
    train(TrainConfig(settings.variant, epochs=1, batch_size=batch_size), dataset=dataset, verbose=False)
    release_memory()  # first-use costs of the process land in no contender
    freeze_long_lived_objects()
    runs: dict[str, list[tuple[float, float]]] = {n: [] for n in names}
    for _, order in rotations(names, settings.repeats):
        for name in order:
            config = TrainConfig(settings.variant, epochs=settings.epochs, batch_size=batch_size, seed=settings.seed,
                                 fit=FitOptions(**CONTENDERS[name]))
            start = time.perf_counter()
            result = train(config, dataset=dataset, verbose=False)
            runs[name].append((time.perf_counter() - start, result.metrics["val"]["accuracy"]))
            del result
            release_memory()
    return _rows(settings, context, runs, batch_size)


def _rows(settings: DevSettings, context: Context, runs: dict[str, list[tuple[float, float]]],
          batch_size: int) -> list[dict[str, Any]]:
    rec = Recorder(context, "options", {"seed": settings.seed, "subset": settings.subset, "epochs": settings.epochs,
                                        "batch_size": batch_size, "repeats": settings.repeats})
    base = median([seconds for seconds, _ in runs["default"]])
    for name, timings in runs.items():
        seconds = [s for s, _ in timings]
        accuracy = [a for _, a in timings]
        rec.add("wall_time", median(seconds), "s", variant=settings.variant, engine=name,
                ratio=None if name == "default" else ratio(median(seconds), base),
                baseline=None if name == "default" else "default", detail={"runs_s": seconds,
                                                                           "settings": CONTENDERS[name]})
        rec.add("val_accuracy", median(accuracy), "accuracy", variant=settings.variant, engine=name,
                detail={"runs": accuracy})
    return rec.rows


if __name__ == "__main__":
    from benchmarks.cli import main_for

    sys.exit(main_for("options", __package__))
