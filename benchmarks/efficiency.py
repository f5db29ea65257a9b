"""Search efficiency: Optuna (TPE + Hyperband) against seed 001's exhaustive grid, per unit of compute.

The issue's claim is that a model-based search with pruning finds a better
model under 50,000 parameters than the grid, with a fraction of its compute.
Both space files run through the public runner (``resolve_space`` +
``run_search``) with the same subset and epochs, and each search is charged
for the epochs it actually trained, read from the trial records (the fields
documented in ``search/records.py``): a completed trial trained
``len(history)`` (else ``epochs``) epochs per run times ``n`` runs (folds or
repeats); a pruned one ``pruned_at_epoch``; one skipped for the budget none.

Each search is then judged by the test accuracy of the configuration it
chose on validation accuracy (the test set never chooses). The grid engine
does not evaluate the test set, so its choice goes through the best-params
handoff (``best_spec`` -> ``train_config`` -> ``train``) as a user's final
run would; that run's epochs are reported but not charged to the search.
"""

from __future__ import annotations

import gc
import io
import math
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

if not __package__:  # `python benchmarks/NAME.py`: import this checkout's packages, not this folder's modules
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from benchmarks.phases import PhaseProfiler, keras_targets
from benchmarks.settings import DevSettings
from search.bench.records import Context, Recorder, ratio
from search.bench.settings import default_space
from search.records import trial_status

OPTUNA_SPACE = "budget50k.toml"
GRID_SPACE = "seed001-grid.toml"


@dataclass
class SearchOutcome:
    """What one search cost and what it found."""

    engine: str
    variant: str
    space: str
    wall_s: float
    total_epochs: int
    image_epochs: int
    epochs_to_best: int | None
    wall_to_best_s: float | None
    best_val_accuracy: float | None
    best_test_accuracy: float | None
    best_params: int | None
    best_trial: int | None
    test_from: str
    final_run_epochs: int
    counts: dict[str, int]
    max_params: int | None
    fit_s_complete: float = 0.0
    trial_s: list[tuple[int, str, float]] | None = None
    phases: dict[str, float] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    gc_objects_at_start: int | None = None


def run_efficiency(settings: DevSettings, context: Context | None = None,
                   stream: TextIO | None = None) -> list[dict[str, Any]]:
    """Run both searches on the same subset and epochs; return the CSV rows (grid = baseline).

    ``stream`` gets each search's per-trial progress (default: stderr with ``settings.verbose``, else none).
    """
    from search.runtime import import_backend_quietly

    import_backend_quietly()
    if stream is None and settings.verbose:
        stream = sys.stderr
    context = context or Context.capture(settings.command)
    optuna_path = settings.optuna_space or default_space(OPTUNA_SPACE)
    grid_path = settings.grid_space or default_space(GRID_SPACE)
    with tempfile.TemporaryDirectory(prefix="cnn-search-bench-") as tmp:
        # Optuna first: every fitted model leaves ~30k objects that outlive clear_session (TensorFlow's traced
        # graphs), so each full gc.collect gets slower as a process ages. The grid fits 3-4x more models; run
        # second, it inherits far less than Optuna would from it. gc_objects_at_start records what each met.
        best = run_one(optuna_path, settings, Path(tmp), stream)
        grid = run_one(grid_path, settings, Path(tmp), stream)
    return _rows(settings, context, [grid, best])


def run_one(path: Path, settings: DevSettings, results_dir: Path,
            stream: TextIO | None = None) -> SearchOutcome:
    """Run the search in ``path`` with the settings' subset, epochs and trials; measure its cost and result."""
    from search.runner import RunOptions, resolve_space, run_search

    options = RunOptions(study=f"bench-{Path(path).stem}", n_trials=settings.n_trials, subset=settings.subset,
                         epochs=settings.epochs, test_subset=settings.test_subset, data_dir=settings.data_dir,
                         results_dir=results_dir)
    space = resolve_space(path, options)
    profiler = PhaseProfiler()
    gc.collect()
    objects = len(gc.get_objects())
    start = time.perf_counter()
    started = time.time()
    with profiler.patched(keras_targets()):
        study = run_search(space, options, stream=stream if stream is not None else io.StringIO()).study
    wall = time.perf_counter() - start
    outcome = _outcome(study, space, Path(path).name, wall, started, settings)
    outcome.phases, outcome.calls = profiler.snapshot()
    outcome.gc_objects_at_start = objects
    return outcome


def trial_epochs(attrs: dict[str, Any]) -> int:
    """Epochs a trial actually trained, over all its runs (folds x repeats), from its record."""
    status = attrs.get("status")
    history = (attrs.get("histories") or [[]])[0]
    if status == "complete":
        per_run = len(history) or int(attrs.get("epochs") or 0)
        return per_run * int(attrs.get("n") or 1)
    if status == "pruned":  # only the first run is watched by the pruner, so only it ran
        return int(attrs.get("pruned_at_epoch") or len(history))
    return 0  # over budget or unbuildable: never trained; failed: unknown, counted as none


def _outcome(study: Any, space: Any, name: str, wall: float, started: float,
             settings: DevSettings) -> SearchOutcome:
    from optuna.trial import TrialState

    from search.handoff import best_spec

    trials = sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)
    per_run_images = _train_images_per_run(space)
    total = epochs_to_best = 0
    best_value = max((t.value for t in trials if t.state == TrialState.COMPLETE and t.value is not None),
                     default=None)
    wall_to_best = None
    found = False
    counts: dict[str, int] = {}
    fit_s = 0.0
    durations: list[tuple[int, str, float]] = []
    for t in trials:
        status = trial_status(t)
        counts[status] = counts.get(status, 0) + 1
        total += trial_epochs(t.user_attrs)
        if status == "complete":
            fit_s += float(t.user_attrs.get("training_time_s") or 0.0) * int(t.user_attrs.get("n") or 1)
        if t.datetime_start and t.datetime_complete and t.datetime_complete > t.datetime_start:
            durations.append((t.number, status, round((t.datetime_complete - t.datetime_start).total_seconds(), 3)))
        if not found and best_value is not None and t.state == TrialState.COMPLETE and t.value == best_value:
            found, epochs_to_best = True, total
            if t.datetime_complete is not None:
                wall_to_best = t.datetime_complete.timestamp() - started
    if best_value is None:
        return SearchOutcome(space.engine, space.variant_names()[0], name, wall, total, round(total * per_run_images),
                             None, None, None, None, None, None, "none", 0, counts, space.max_params, fit_s,
                             durations or None)
    spec = best_spec(study)
    test, source, final_epochs = spec.metrics.get("test_accuracy"), "search trial", 0
    # A grid point's test figure is its fold models' mean; what the grid hands off is one model
    # retrained on the holdout split, as the Optuna trial was trained, so that is what is compared.
    if test is None or space.engine == "grid":
        test, final_epochs = _final_run(spec, settings)
        source = "final run of the chosen configuration (best_spec -> train_config -> train)"
    return SearchOutcome(space.engine, spec.variant, name, wall, total, round(total * per_run_images), epochs_to_best,
                         wall_to_best, spec.metrics.get("val_accuracy"), test, spec.params,
                         spec.source.get("trial"), source, final_epochs, counts, space.max_params, fit_s,
                         durations or None)


def _final_run(spec: Any, settings: DevSettings) -> tuple[float, int]:
    """Train the handed-off configuration as ``cnn-search train --from best.json`` would; its test accuracy."""
    from search.handoff import train_config
    from search.training import release_memory, train

    result = train(train_config(spec), data_dir=settings.data_dir, verbose=False)
    metrics = result.metrics
    del result
    release_memory()
    return float(metrics["test"]["accuracy"]), int(metrics.get("epochs_run") or metrics["epochs"])


def _train_images_per_run(space: Any) -> float:
    """Training images in one run: the holdout's training split, or the mean fold's training part."""
    n = space.data.subset or 60000
    if space.validation.method == "kfold":
        return n * (space.validation.folds - 1) / space.validation.folds
    return n - math.ceil(n * space.data.val_fraction)


def _rows(settings: DevSettings, context: Context, outcomes: list[SearchOutcome]) -> list[dict[str, Any]]:
    rec = Recorder(context, "efficiency", {"seed": settings.seed, "subset": settings.subset,
                                           "epochs": settings.epochs, "repeats": 1})
    grid = next((o for o in outcomes if o.engine == "grid"), None)
    for o in outcomes:
        is_base = o is grid
        base = None if is_base or grid is None else "grid"

        def add(metric: str, value: Any, unit: str, grid_value: Any = None, o: SearchOutcome = o,
                base: str | None = base, **detail: Any) -> None:
            rec.add(metric, value, unit, variant=o.variant, engine=o.engine,
                    ratio=ratio(value, grid_value) if base else None, baseline=base,
                    detail={"space": o.space, "n_trials": settings.n_trials, "test_subset": settings.test_subset,
                            "max_params": o.max_params, "trials": o.counts, **detail})

        add("total_epochs", o.total_epochs, "epochs", grid and grid.total_epochs,
            meaning="sum over trials of epochs trained x runs (folds/repeats); pruned trials count the epochs "
                    "they ran, over-budget ones none")
        add("image_epochs", o.image_epochs, "images", grid and grid.image_epochs,
            meaning="total_epochs x training images per run (holdout split or mean fold)")
        add("epochs_to_best", o.epochs_to_best, "epochs", grid and grid.epochs_to_best,
            meaning="cumulative epochs up to and including the first trial that reached the best "
                    "validation accuracy", best_trial=o.best_trial)
        add("wall_time", o.wall_s, "s", grid and grid.wall_s, meaning="run_search wall time (one run each)",
            fit_s_complete_trials=o.fit_s_complete, trial_s=o.trial_s, gc_objects_at_start=o.gc_objects_at_start,
            fit_note="training_time_s x n of completed trials (the records' fit time); the rest of the wall "
                     "time is per-trial fixed cost: tracing, budget builds, test evaluation, memory release, "
                     "pruned and over-budget trials")
        add("wall_time_to_best", o.wall_to_best_s, "s", grid and grid.wall_to_best_s)
        add("best_val_accuracy", o.best_val_accuracy, "accuracy", grid and grid.best_val_accuracy,
            meaning="validation accuracy of the chosen configuration (k-fold mean for the grid, holdout "
                    "for Optuna: not directly comparable)")
        add("best_test_accuracy", o.best_test_accuracy, "accuracy", grid and grid.best_test_accuracy,
            meaning="test accuracy of the configuration chosen on validation accuracy", test_from=o.test_from,
            final_run_epochs=o.final_run_epochs, params=o.best_params)
        add("best_params", o.best_params, "count", grid and grid.best_params)
        for phase, seconds in [*sorted(o.phases.items()), ("other", o.wall_s - sum(o.phases.values()))]:
            rec.add(f"phase_{phase}", seconds, "s", variant=o.variant, engine=o.engine, ratio=ratio(seconds, o.wall_s),
                    baseline=f"{o.engine} wall_time",
                    detail={"space": o.space, "calls": o.calls.get(phase),
                            "meaning": "time inside this entry point over the whole search (outermost call "
                                       "counted); other: everything else (model construction, Optuna, "
                                       "scikeras/GridSearchCV glue, storage)"})
    return rec.rows


if __name__ == "__main__":
    from benchmarks.cli import main_for

    sys.exit(main_for("efficiency", __package__))
