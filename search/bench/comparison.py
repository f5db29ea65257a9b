"""Seed 003's comparison as a benchmark: ``spaces/variants.toml`` end to end, its wall time and each model's figures.

The report this reproduces needed 1,870 s for its five models x 25 epochs on
48,000 images; the GPU goal is 120 s. The space runs through the public
runner (``resolve_space`` + ``run_search``), as ``cnn-search run
spaces/variants.toml`` does, with the benchmark's subset, epochs and number of
seeds per model (``--seeds``; the space's own is 3), and one row per figure:
the whole comparison's wall time (data loading and every model's build, fit
and test pass), then per model its training time (mean over seeds), time per
epoch, validation and test accuracy and params. Not part of ``bench all``:
at full size it is a GPU job.
"""

from __future__ import annotations

import io
import tempfile
import time
from pathlib import Path
from typing import Any

from .records import Context, Recorder
from .settings import BenchSettings, default_space

SPACE = "variants.toml"


def run_comparison(settings: BenchSettings, context: Context | None = None) -> list[dict[str, Any]]:
    """Run the comparison once; return its CSV rows."""
    from optuna.trial import TrialState

    from ..runner import RunOptions, resolve_space, run_search

    context = context or Context.capture(settings.command)
    with tempfile.TemporaryDirectory(prefix="cnn-search-bench-") as tmp:
        options = RunOptions(study="bench-comparison", subset=settings.subset, epochs=settings.epochs,
                             test_subset=settings.test_subset, data_dir=settings.data_dir, results_dir=Path(tmp))
        space = resolve_space(default_space(SPACE), options)
        if settings.seeds is not None:
            space = space.model_copy(update={"validation": space.validation.model_copy(
                update={"repeats": settings.seeds})})
        start = time.perf_counter()
        study = run_search(space, options, stream=io.StringIO()).study
        wall = time.perf_counter() - start
        trials = study.get_trials(states=(TrialState.COMPLETE,))
    seeds = space.validation.repeats
    rec = Recorder(context, "comparison", {"seed": space.seed, "subset": settings.subset, "epochs": space.epochs,
                                           "batch_size": space.batch_size, "repeats": seeds})
    rec.add("wall_time", wall, "s", variant=",".join(space.variants), engine="variants.toml",
            detail={"meaning": "the whole comparison: data, every model's build, fit and test pass",
                    "models": len(space.variants), "seeds": seeds, "complete": len(trials),
                    "report_s": 1870, "goal_s": 120})
    for t in sorted(trials, key=lambda t: t.user_attrs["variant"]):
        a, variant = t.user_attrs, t.user_attrs["variant"]
        detail = {"n_train": a.get("n_train"), "val_scores": a.get("val_scores"), "trial": t.number}
        rec.add("train_time", a["training_time_s"], "s", variant=variant, engine="variants.toml", detail=detail)
        rec.add("time_per_epoch", a["time_per_epoch_s"], "s", variant=variant, engine="variants.toml")
        rec.add("val_accuracy", a["val_accuracy"], "fraction", variant=variant, engine="variants.toml")
        rec.add("test_accuracy", a.get("test_accuracy"), "fraction", variant=variant, engine="variants.toml")
        rec.add("params", a.get("params"), "params", variant=variant, engine="variants.toml")
    return rec.rows
