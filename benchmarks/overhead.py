"""Engine overhead: one trial through an engine against the same work in bare Keras.

The issue's target is an engine within 5 % of what a notebook user pays for
the same model, so the baseline is exactly that user's code: build the zoo
model, ``fit`` with ``validation_data``, ``evaluate`` on the test set (for
the grid: ``fit`` and ``predict`` on each of the same ``StratifiedKFold``
splits). Every contender runs in this one process, alternately, with the
order rotated each round; the medians and their ratio engine/bare are
reported, plus the median time per phase of each, which says where an
engine's extra time goes.

The engines seed with TensorFlow op determinism on (a process-wide switch);
a notebook user does not. The ``bare`` baseline therefore runs with it off
and ``bare-deterministic`` with it on, so its share of the overhead is a
figure of its own (TensorFlow backend only; other backends have no switch).
After the warm-up the process freezes its long-lived objects out of garbage
collection, as ``cnn-search run`` and ``worker`` do
(:func:`search.runtime.freeze_long_lived_objects`): without it each trial's
collection walked every object the imports created, which was the largest
overhead this benchmark found (2.08x bare Keras at --small before it; rows in
results/bench/overhead.csv).

Phases (``phase_*`` rows, medians) are measured by wrapping public entry
points for the duration of the runs (:mod:`benchmarks.phases`); ``other``
is the rest: model construction, Optuna's study and sampler, scikeras and
GridSearchCV glue, trial records.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if not __package__:  # `python benchmarks/NAME.py`: import this checkout's packages, not this folder's modules
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from benchmarks.phases import PhaseProfiler, TimedStorage, keras_targets
from benchmarks.settings import DevSettings
from search.bench.datasets import bench_dataset
from search.bench.records import Context, Recorder, ratio
from search.bench.timing import epoch_clock, median, rotations

EVAL_BATCH = 2048  # the batch the engines' train path evaluates with; the bare run uses the same

#: (engine contender, its bare baseline)
PAIRS = (("optuna", "bare"), ("bare-deterministic", "bare"), ("grid", "bare-kfold"))


@dataclass
class Run:
    """One timed run of a contender: wall time, time per phase, and a sanity figure."""

    seconds: float
    phases: dict[str, float]
    calls: dict[str, int]
    val_accuracy: float | None = None
    epoch_times: list[float] = field(default_factory=list)


def run_overhead(settings: DevSettings, context: Context | None = None) -> list[dict[str, Any]]:
    """Time bare Keras against one Optuna trial and one GridSearchCV point; return the CSV rows."""
    from search.runtime import freeze_long_lived_objects, import_backend_quietly

    import_backend_quietly()
    import optuna

    from search.zoo import get_variant

    variant = get_variant(settings.variant)
    hparams = variant.resolve({})
    batch_size = settings.batch_size or variant.batch_size
    context = context or Context.capture(settings.command)
    dataset = bench_dataset(settings, variant.num_classes(hparams))
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    bench = _Contenders(settings, dataset, hparams, batch_size)
    bench.warm_up()
    freeze_long_lived_objects()  # as the CLI does once its imports are done
    runs: dict[str, list[Run]] = {name: [] for name in bench.names()}
    with tempfile.TemporaryDirectory(prefix="cnn-search-bench-") as tmp, bench.profiler.patched(keras_targets()):
        bench.tmp = Path(tmp)
        for round_, order in rotations(bench.names(), settings.repeats):
            for name in order:
                runs[name].append(bench.run(name, round_))
    return _rows(settings, context, runs, batch_size, len(dataset.y_train), len(dataset.y_test))


class _Contenders:
    """The contenders (see :meth:`names`); each public method is one run of one of them."""

    def __init__(self, settings: DevSettings, dataset: Any, hparams: dict[str, Any], batch_size: int) -> None:
        import keras

        self.keras = keras
        self.s = settings
        self.data = dataset
        self.hparams = hparams
        self.batch_size = batch_size
        self.tmp = Path(tempfile.gettempdir())
        self.profiler = PhaseProfiler()
        self.determinism = _determinism_switch(keras.backend.backend())
        # The notebook has its arrays ready, scaled by hand (x / 255); the engines get the raw pixels
        # and normalise inside the model, as every run of theirs does.
        self.bare_data = scaled(dataset)
        self.x_trainval, self.y_trainval = self.bare_data.x_trainval, self.bare_data.y_trainval

    def names(self) -> list[str]:
        """The contenders, in the order of the first round."""
        names = ["bare", "optuna", "bare-kfold", "grid"]
        return names[:1] + ["bare-deterministic"] + names[1:] if self.determinism else names

    def run(self, name: str, round_: int) -> Run:
        """One timed run of contender ``name``; state is cleared before the clock starts."""
        method: Callable[[int], tuple[float | None, list[float]]] = getattr(self, name.replace("-", "_"))
        self._fresh()
        self.profiler.reset()
        start = time.perf_counter()
        val_accuracy, epoch_times = method(round_)
        seconds = time.perf_counter() - start
        return Run(seconds, *self.profiler.snapshot(), val_accuracy, epoch_times)

    def warm_up(self) -> None:
        """One tiny fit/evaluate/predict so the process's first-use costs land in no contender."""
        from scikeras.wrappers import KerasClassifier  # noqa: F401  (first imports are slow)
        from sklearn.model_selection import GridSearchCV  # noqa: F401

        from search.engines import grid_engine  # noqa: F401
        from search.zoo import build_model

        self._fresh()
        model = build_model(self.s.variant, self.hparams)
        n = min(len(self.data.y_train), 4 * self.batch_size)
        d = self.bare_data
        model.fit(d.x_train[:n], d.y_train[:n], epochs=1, batch_size=self.batch_size, verbose=0)
        model.evaluate(d.x_val, d.y_val, batch_size=EVAL_BATCH, verbose=0)
        model.predict(d.x_val, batch_size=self.batch_size, verbose=0)
        self._fresh()

    # --- contenders ------------------------------------------------------------------------------

    def bare(self, round_: int, deterministic: bool = False) -> tuple[float | None, list[float]]:
        """What a notebook does: seed, build, fit with validation data, evaluate on the test set."""
        from search.zoo import build_model

        if self.determinism:
            self.determinism(deterministic)
        keras, d = self.keras, self.bare_data
        keras.utils.set_random_seed(self.s.seed)
        model = build_model(self.s.variant, self.hparams)
        clock = epoch_clock()
        history = model.fit(d.x_train, d.y_train, validation_data=(d.x_val, d.y_val), epochs=self.s.epochs,
                            batch_size=self.batch_size, verbose=0, callbacks=[clock])
        model.evaluate(d.x_test, d.y_test, batch_size=EVAL_BATCH, verbose=0)
        return float(history.history["val_accuracy"][-1]), clock.times

    def bare_deterministic(self, round_: int) -> tuple[float | None, list[float]]:
        """``bare`` with TensorFlow op determinism on, as the engines run."""
        return self.bare(round_, deterministic=True)

    def optuna(self, round_: int) -> tuple[float | None, list[float]]:
        """The same configuration as the single trial of a one-point Optuna study."""
        from search.execution import run_study
        from search.spaces import ParamCounter
        from search.storages import open_storage

        space = self._space(f"overhead-optuna-{round_}-{time.monotonic_ns()}", engine="optuna",
                            optuna={"sampler": "grid"})
        storage = open_storage(None, space.study, self.tmp)
        study = run_study(space, TimedStorage(storage, self.profiler), self.data, ParamCounter(), callbacks=[])
        trial = _only_complete_trial(study)
        history = (trial.user_attrs.get("histories") or [[]])[0]
        return trial.value, [float(h["epoch_time_s"]) for h in history if "epoch_time_s" in h]

    def bare_kfold(self, round_: int) -> tuple[float | None, list[float]]:
        """k bare fits on GridSearchCV's StratifiedKFold splits, each scored by ``predict`` on its held-out part."""
        import numpy as np
        from sklearn.model_selection import StratifiedKFold

        from search.zoo import build_model

        if self.determinism:
            self.determinism(False)
        keras, x, y = self.keras, self.x_trainval, self.y_trainval
        scores = []
        for train_idx, val_idx in StratifiedKFold(self.s.folds, shuffle=True, random_state=self.s.seed).split(x, y):
            keras.utils.set_random_seed(self.s.seed)  # scikeras re-seeds each fold's fit with random_state
            model = build_model(self.s.variant, self.hparams)
            model.fit(x[train_idx], y[train_idx], epochs=self.s.epochs, batch_size=self.batch_size, verbose=0)
            predicted = np.argmax(model.predict(x[val_idx], batch_size=self.batch_size, verbose=0), axis=1)
            scores.append(float(np.mean(predicted == y[val_idx])))
        return float(np.mean(scores)), []

    def grid(self, round_: int) -> tuple[float | None, list[float]]:
        """The same configuration as one GridSearchCV point with k stratified folds."""
        from search.execution import run_study
        from search.spaces import ParamCounter
        from search.storages import open_storage

        space = self._space(f"overhead-grid-{round_}-{time.monotonic_ns()}", engine="grid",
                            validation={"method": "kfold", "folds": self.s.folds})
        storage = open_storage(None, space.study, self.tmp)
        study = run_study(space, TimedStorage(storage, self.profiler), self.data, ParamCounter(), callbacks=[])
        return _only_complete_trial(study).value, []

    # --- helpers ---------------------------------------------------------------------------------

    def _space(self, study: str, **settings: Any) -> Any:
        """A one-point space: the variant's defaults, the optimizer "searched" over its one default value."""
        from search.spaces import validate_space_dict

        record = {"study": study, "variant": self.s.variant, "epochs": self.s.epochs, "batch_size": self.batch_size,
                  "seed": self.s.seed, "search": {"optimizer": [self.hparams["optimizer"]]},
                  "data": {"subset": self.s.subset, "test_subset": self.s.test_subset}, **settings}
        record["data"] = {k: v for k, v in record["data"].items() if v is not None}
        return validate_space_dict(record, source="overhead benchmark")

    def _fresh(self) -> None:
        """Between runs (untimed): drop Keras's global state so no run inherits another's graphs."""
        import gc

        self.keras.backend.clear_session()
        gc.collect()


def _only_complete_trial(study: Any) -> Any:
    from optuna.trial import TrialState

    trial = study.trials[-1]
    if trial.state != TrialState.COMPLETE:
        reason = trial.user_attrs.get("reason") or trial.user_attrs.get("status") or trial.state.name
        raise RuntimeError(f"the benchmark trial did not complete: {reason}")
    return trial


def _determinism_switch(backend: str) -> Callable[[bool], None] | None:
    """A function turning TensorFlow op determinism on/off, or None where there is no such switch."""
    from search.runtime import set_op_determinism

    return set_op_determinism if backend == "tensorflow" else None


# --- rows -----------------------------------------------------------------------------------------

PHASES = ("fit", "evaluate", "predict", "compile", "param_count", "storage", "clear_session", "gc_collect",
          "seeding", "confusion_matrix")


def _rows(settings: DevSettings, context: Context, runs: dict[str, list[Run]], batch_size: int,
          n_train: int, n_test: int) -> list[dict[str, Any]]:
    rec = Recorder(context, "overhead", {"seed": settings.seed, "subset": settings.subset, "epochs": settings.epochs,
                                         "batch_size": batch_size, "repeats": settings.repeats})
    base = {"folds": settings.folds, "n_train": n_train, "n_test": n_test, "eval_batch": EVAL_BATCH}
    medians = {name: median([r.seconds for r in rs]) for name, rs in runs.items()}
    baseline_of = {engine: bare for engine, bare in PAIRS}
    for name, rs in runs.items():
        bare = baseline_of.get(name)
        detail = {**base, "stat": "median", "runs_s": [r.seconds for r in rs],
                  "val_accuracy": [r.val_accuracy for r in rs], "calls": rs[-1].calls}
        rec.add("wall_time", medians[name], "s", variant=settings.variant, engine=name,
                ratio=ratio(medians[name], medians.get(bare)) if bare in medians else None,
                baseline=bare if bare in medians else None, detail=detail)
        if bare in medians:
            rec.add("overhead", medians[name] - medians[bare], "s", variant=settings.variant, engine=name,
                    ratio=ratio(medians[name] - medians[bare], medians[bare]), baseline=bare,
                    detail={**base, "stat": "difference of medians"})
            outside = [_outside_fit(e) - _outside_fit(b) for e, b in zip(rs, runs[bare], strict=True)]
            rec.add("overhead_outside_fit", median(outside), "s", variant=settings.variant, engine=name,
                    ratio=ratio(median(outside), medians[bare]), baseline=bare,
                    detail={**base, "stat": "median over rounds of (wall - fit) minus the same round's bare "
                                            "(wall - fit)", "runs_s": outside,
                            "meaning": "the engine's extra time outside keras fit: immune to the load swings "
                                       "that move fit times by tens of percent on a shared machine, blind to "
                                       "differences inside fit (determinism, callbacks)"})
        for phase, seconds in _phase_medians(rs).items():
            rec.add(f"phase_{phase}", seconds, "s", variant=settings.variant, engine=name,
                    ratio=ratio(seconds, medians[name]), baseline=f"{name} wall_time",
                    detail={**base, "stat": "median", "runs_s": [r.phases.get(phase, 0.0) if phase != "other"
                                                                 else r.seconds - sum(r.phases.values()) for r in rs]})
        excess = [r.epoch_times[0] - median(r.epoch_times[1:]) for r in rs if len(r.epoch_times) >= 2]
        if excess:
            rec.add("first_epoch_excess", median(excess), "s", variant=settings.variant, engine=name,
                    detail={**base, "stat": "median", "runs_s": excess,
                            "meaning": "first epoch minus the median later epoch: tracing/compilation of the "
                                       "train and validation steps"})
    return rec.rows


def _outside_fit(run: Run) -> float:
    return run.seconds - run.phases.get("fit", 0.0)


def _phase_medians(runs: list[Run]) -> dict[str, float]:
    """Median seconds per phase over runs, plus ``other``: wall time outside every measured phase."""
    names = [p for p in PHASES if any(p in r.phases for r in runs)]
    out = {p: median([r.phases.get(p, 0.0) for r in runs]) for p in names}
    out["other"] = median([r.seconds - sum(r.phases.values()) for r in runs])
    return out


def scaled(dataset: Any) -> Any:
    """``dataset`` with its images divided by 255, as a notebook prepares them before ``fit``."""
    import dataclasses

    return dataclasses.replace(dataset, x_train=dataset.x_train / 255.0, x_val=dataset.x_val / 255.0,
                               x_test=dataset.x_test / 255.0)


if __name__ == "__main__":
    from benchmarks.cli import main_for

    sys.exit(main_for("overhead", __package__))
