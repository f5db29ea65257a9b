"""Engine 1: scikit-learn ``GridSearchCV`` over a scikeras ``KerasClassifier``.

This is seed 001's workflow made safe: the budget is checked for every grid
point before anything trains, cross-validation is explicitly stratified, and
each point is one queued Optuna trial whose ``cv_results_`` are stored as soon
as it is done, so several workers share a grid without running a point twice,
an interrupted grid resumes where it stopped, and later tools read grid and
Optuna results alike.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import keras
import numpy as np
import optuna
from optuna.trial import TrialState
from scikeras.wrappers import KerasClassifier
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from ..errors import ConfigError
from ..runtime import seed_everything, visible_gpus
from ..training import FitOptions, release_memory
from ..training.interruption import InterruptCheck
from ..training.options import precision
from ..zoo import build_model
from . import records
from .optuna_engine import set_attrs
from .pruning import Diverged, DivergenceGuard

if TYPE_CHECKING:
    from ..data import Dataset
    from ..spaces import ParamCounter, Space


class StratifiedKerasClassifier(KerasClassifier):
    """A ``KerasClassifier`` that scikit-learn >= 1.6 recognises as a classifier.

    scikeras 0.13 predates scikit-learn's tag API, so ``is_classifier`` is
    False and an integer ``cv`` silently becomes an unstratified ``KFold``.
    The engine always passes an explicit ``StratifiedKFold`` as well.
    """

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        from sklearn.utils import ClassifierTags

        tags.estimator_type = "classifier"
        tags.classifier_tags = ClassifierTags()
        return tags


def keras_model(variant: str, hparams: dict[str, Any], meta: Any = None, compile_kwargs: Any = None,
                params: Any = None, fit: FitOptions | None = None, **searched: Any) -> keras.Model:
    """scikeras build function: the zoo model with the grid point's values applied.

    scikeras hands a ``**kwargs`` build function its own ``meta``,
    ``compile_kwargs`` and ``params`` too; they are named here to keep them
    out of the hyperparameters.
    """
    fit = fit or FitOptions()
    with precision(fit.precision):
        return build_model(variant, {**hparams, **searched}, compile_options=fit.compile_kwargs())


def make_classifier(variant: str, hparams: dict[str, Any], epochs: int, batch_size: int,
                    seed: int, fit: FitOptions | None = None) -> StratifiedKerasClassifier:
    return StratifiedKerasClassifier(
        model=keras_model, model__variant=variant, model__hparams=hparams, model__fit=fit or FitOptions(),
        epochs=epochs, batch_size=batch_size, random_state=seed, verbose=0,
        callbacks=[DivergenceGuard(), InterruptCheck()],
    )


def param_grid(searched: dict[str, Any], epochs: int, batch_size: int) -> dict[str, list]:
    """The grid point in scikeras's routing: model hyperparameters under ``model__``."""
    return {"epochs": [epochs], "batch_size": [batch_size], **{f"model__{k}": [v] for k, v in searched.items()}}


class GridObjective:
    """Cross-validates the queued grid point a trial carries (its values are fixed by the queue)."""

    def __init__(self, space: Space, dataset: Dataset, counter: ParamCounter) -> None:
        _check_parallel_jobs(space.n_jobs)
        self.space = space
        self.dataset = dataset
        self.counter = counter
        self.grid = space.grid_search_space()

    def __call__(self, trial: optuna.Trial) -> float:
        point = {key: trial.suggest_categorical(key, values) for key, values in self.grid.items()}
        outcome = _evaluate_point(self.space, point, self.dataset, self.counter)
        set_attrs(trial, outcome["user_attrs"])
        if outcome["state"] == TrialState.PRUNED:
            raise optuna.TrialPruned(outcome["user_attrs"].get("reason"))
        return outcome["value"]


def _check_parallel_jobs(n_jobs: int) -> None:
    """Parallel folds run in separate processes; on a GPU they would all land on the same device."""
    gpus = visible_gpus() if n_jobs > 1 else []
    if gpus:
        raise ConfigError(f"n_jobs = {n_jobs} with a visible GPU ({gpus[0]}) would put every cross-validation "
                          "job on that one device; use n_jobs = 1 on GPU machines")


def _evaluate_point(space: Space, point: dict[str, Any], dataset: Dataset, counter: ParamCounter) -> dict[str, Any]:
    variant, hparams, epochs, batch_size = space.split_params(point)
    base = {"engine": "grid", "variant": variant, "epochs": epochs, "batch_size": batch_size}
    try:
        params = counter.count(variant, hparams)
    except ConfigError as exc:
        return _skipped(base, records.STATUS_INVALID, None, str(exc))
    if space.max_params is not None and params > space.max_params:
        return _skipped(base, records.STATUS_OVER_BUDGET, params, f"{params:,} > {space.max_params:,}")
    searched = {k: hparams[k] for k in point if k in hparams}
    fixed = {k: v for k, v in hparams.items() if k not in searched}
    estimator = make_classifier(variant, fixed, epochs, batch_size, space.seed, space.fit_options()).set_params(
        **{f"model__{k}": v for k, v in searched.items()})
    try:
        result = _cross_validate(space, estimator, param_grid(searched, epochs, batch_size), dataset)
    except Diverged as exc:
        return _skipped(base, records.STATUS_DIVERGED, params, str(exc))
    return {"state": TrialState.COMPLETE, "value": result["val_accuracy"],
            "user_attrs": records.clean({**base, "status": records.STATUS_COMPLETE, "params": params, **result})}


def _cross_validate(space: Space, estimator: StratifiedKerasClassifier, grid: dict[str, list],
                    dataset: Dataset) -> dict[str, Any]:
    folds, epochs = space.validation.folds, grid["epochs"][0]
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=space.seed)
    seed_everything(space.seed, deterministic=space.fit_options().deterministic)
    search = GridSearchCV(estimator, param_grid=grid, cv=cv, scoring="accuracy", refit=False,
                          n_jobs=space.n_jobs, error_score="raise")
    start = time.perf_counter()
    try:
        search.fit(dataset.x_trainval, dataset.y_trainval)
    finally:
        release_memory()
    res = search.cv_results_
    scores = [float(res[f"split{i}_test_score"][0]) for i in range(folds)]
    fit_time = float(res["mean_fit_time"][0])
    return {
        "n": folds, "seeds": [space.seed] * folds, "val_accuracy": float(np.mean(scores)),
        "val_accuracy_std": float(np.std(scores, ddof=1)), "val_scores": scores, "val_loss": None,
        "test_accuracy": None, "test_accuracy_std": None, "test_loss": None,
        "training_time_s": fit_time, "time_per_epoch_s": fit_time / epochs,
        "cv_std_fit_time_s": float(res["std_fit_time"][0]), "cv_mean_score_time_s": float(res["mean_score_time"][0]),
        "search_wall_time_s": time.perf_counter() - start,
    }


def _skipped(base: dict[str, Any], status: str, params: int | None, reason: str) -> dict[str, Any]:
    return {"state": TrialState.PRUNED, "value": None,
            "user_attrs": records.clean({**base, "status": status, "params": params, "reason": reason})}
