"""Engine 1: scikit-learn ``GridSearchCV`` over a scikeras ``KerasClassifier``.

This is seed 001's workflow made safe: the budget is checked for every grid
point before anything trains, cross-validation is explicitly stratified, and
each point is one queued Optuna trial whose ``cv_results_`` are stored as soon
as it is done, so several workers share a grid without running a point twice,
an interrupted grid resumes where it stopped, and later tools read grid and
Optuna results alike.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import keras
import numpy as np
import optuna
from optuna.trial import TrialState
from scikeras.wrappers import KerasClassifier
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from .. import records
from ..data import fit_normalization
from ..errors import ConfigError
from ..progress import TrialProgressSink
from ..runtime import seed_everything, visible_gpus
from ..spaces.budget import check_budget
from ..training import FitOptions, release_memory
from ..training.interruption import InterruptCheck
from ..training.options import precision
from ..training.progress import EpochTimer, RunProgress
from ..training.trainer import EVAL_BATCH, dataset_shape, history_frame, test_scores, training_time
from ..zoo import FASHION_SHAPE, DataShape, build_model
from .optuna_engine import set_attrs
from .pruning import Diverged, DivergenceGuard

if TYPE_CHECKING:
    from ..data import Dataset
    from ..spaces import ParamCounter, Space


class StratifiedKerasClassifier(KerasClassifier):
    """A ``KerasClassifier`` that scikit-learn >= 1.6 recognises as a classifier, and that
    normalises each fold with statistics of that fold's training part.

    scikeras 0.13 predates scikit-learn's tag API, so ``is_classifier`` is
    False and an integer ``cv`` silently becomes an unstratified ``KFold``.
    The engine always passes an explicit ``StratifiedKFold`` as well.

    ``fit`` receives only the fold's training images (raw pixels), so the
    normalisation fitted there (``normalization_``, handed to the build
    function in scikeras's ``meta``) never sees the fold it is scored on.
    """

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        from sklearn.utils import ClassifierTags

        tags.estimator_type = "classifier"
        tags.classifier_tags = ClassifierTags()
        return tags

    def fit(self, X: Any, y: Any, sample_weight: Any = None, **kwargs: Any) -> StratifiedKerasClassifier:
        self.normalization_ = fit_normalization(getattr(self, "model__normalize", "scale"), np.asarray(X))
        return super().fit(X, y, sample_weight=sample_weight, **kwargs)


def keras_model(variant: str, hparams: dict[str, Any], normalize: str = "scale", meta: Any = None,
                compile_kwargs: Any = None, params: Any = None, fit: FitOptions | None = None,
                shape: DataShape = FASHION_SHAPE, **searched: Any) -> keras.Model:
    """scikeras build function: the zoo model with the grid point's values applied, taking raw pixels.

    scikeras hands a ``**kwargs`` build function its own ``meta`` (which
    carries the fold's fitted normalisation and training-set shape),
    ``compile_kwargs`` and ``params`` (epochs, batch size) too; they are named
    here to keep them out of the hyperparameters.
    """
    fit = fit or FitOptions()
    steps = params["epochs"] * math.ceil(meta["X_shape_"][0] / params["batch_size"])
    with precision(fit.precision):
        return build_model(variant, {**hparams, **searched}, shape=shape, compile_options=fit.compile_kwargs(),
                           total_steps=steps, normalization=meta["normalization_"])


def make_classifier(variant: str, hparams: dict[str, Any], epochs: int, batch_size: int,
                    seed: int, fit: FitOptions | None = None, normalize: str = "scale",
                    shape: DataShape = FASHION_SHAPE) -> StratifiedKerasClassifier:
    return StratifiedKerasClassifier(
        model=keras_model, model__variant=variant, model__hparams=hparams, model__fit=fit or FitOptions(),
        model__normalize=normalize, model__shape=shape, epochs=epochs, batch_size=batch_size, random_state=seed,
        verbose=0,
        predict__batch_size=EVAL_BATCH, callbacks=[EpochTimer(), DivergenceGuard(), InterruptCheck()],
    )


def param_grid(searched: dict[str, Any], epochs: int, batch_size: int) -> dict[str, list]:
    """The grid point in scikeras's routing: model hyperparameters under ``model__``."""
    return {"epochs": [epochs], "batch_size": [batch_size], **{f"model__{k}": [v] for k, v in searched.items()}}


class FoldScorer:
    """GridSearchCV's scoring: everything the Optuna engine records of a run, for each fold.

    Called with the fold's fitted model and its validation images, it returns
    numbers GridSearchCV stores per fold (validation accuracy and loss,
    training time, epochs, sizes, and with ``evaluate_test`` the fold model's
    test accuracy and loss), and keeps the fold's per-epoch history, which
    is not a number, on the side (in this process only: with ``n_jobs > 1``
    the folds run elsewhere and their histories are not kept).
    """

    def __init__(self, x_test: np.ndarray | None, y_test: np.ndarray | None) -> None:
        self.x_test, self.y_test = x_test, y_test
        self.histories: list[list[dict[str, float]]] = []

    def __call__(self, estimator: StratifiedKerasClassifier, X: Any, y: Any) -> dict[str, float]:
        loss_fn = estimator.model_.loss
        val_loss, val_acc = test_scores(np.asarray(y), _probabilities(estimator, X), loss_fn)
        history = history_frame(estimator.history_)
        out = {"accuracy": val_acc, "loss": val_loss, "fit_time": training_time(history),
               "epochs_run": float(len(history)), "n_train": float(estimator.X_shape_[0]), "n_val": float(len(y))}
        if self.x_test is not None:
            out["test_loss"], out["test_accuracy"] = test_scores(self.y_test, _probabilities(estimator, self.x_test),
                                                                 loss_fn)
        self.histories.append(history.to_dict(orient="records"))
        return out


def _probabilities(estimator: StratifiedKerasClassifier, x: Any) -> np.ndarray:
    return np.asarray(estimator.predict_proba(x), dtype=np.float32)


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
        outcome = _evaluate_point(self.space, point, self.dataset, self.counter, trial)
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


def _evaluate_point(space: Space, point: dict[str, Any], dataset: Dataset, counter: ParamCounter,
                    trial: optuna.Trial | None = None) -> dict[str, Any]:
    variant, hparams, epochs, batch_size = space.split_params(point)
    base = {"engine": "grid", "variant": variant, "epochs": epochs, "batch_size": batch_size}
    verdict = check_budget(space, counter, variant, hparams)
    base.update(verdict.attrs())
    if verdict.status is not None:
        return _skipped(base, verdict.status, verdict.reason or "")
    searched = {k: hparams[k] for k in point if k in hparams}
    fixed = {k: v for k, v in hparams.items() if k not in searched}
    estimator = make_classifier(variant, fixed, epochs, batch_size, space.seed, space.fit_options(),
                                space.data.normalize, dataset_shape(dataset))
    estimator.set_params(**{f"model__{k}": v for k, v in searched.items()})
    if trial is not None and space.n_jobs == 1:  # folds in other processes could not write to this trial
        progress = RunProgress(TrialProgressSink(trial), batch_size, space.validation.folds)
        estimator.set_params(callbacks=[*estimator.callbacks, progress])
    try:
        runs = _cross_validate(space, estimator, param_grid(searched, epochs, batch_size), dataset)
    except Diverged as exc:
        return _skipped(base, records.STATUS_DIVERGED, str(exc))
    summary = records.summarise_runs(runs, "kfold")
    return {"state": TrialState.COMPLETE, "value": summary["val_accuracy"],
            "user_attrs": records.clean({**base, "status": records.STATUS_COMPLETE, **summary})}


def _cross_validate(space: Space, estimator: StratifiedKerasClassifier, grid: dict[str, list],
                    dataset: Dataset) -> list[dict[str, Any]]:
    """GridSearchCV over one point; one ``metrics.json``-shaped dict per fold, as the Optuna engine makes."""
    folds = space.validation.folds
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=space.seed)
    test = space.validation.evaluate_test
    scorer = FoldScorer(dataset.x_test if test else None, dataset.y_test if test else None)
    seed_everything(space.seed, deterministic=space.fit_options().deterministic)
    search = GridSearchCV(estimator, param_grid=grid, cv=cv, scoring=scorer, refit=False,
                          n_jobs=space.n_jobs, error_score="raise")
    try:
        search.fit(dataset.x_trainval, dataset.y_trainval)
    finally:
        release_memory()
    res = search.cv_results_
    histories = scorer.histories if len(scorer.histories) == folds else [[] for _ in range(folds)]
    return [_fold_run(res, i, space.seed, test, histories[i]) for i in range(folds)]


def _fold_run(res: dict[str, Any], i: int, seed: int, test: bool, history: list[dict[str, float]]) -> dict[str, Any]:
    def score(name: str) -> float:
        return float(res[f"split{i}_test_{name}"][0])

    epochs_run, n_train = int(score("epochs_run")), int(score("n_train"))
    return {
        "seed": seed, "val": {"accuracy": score("accuracy"), "loss": score("loss")},
        "test": {"accuracy": score("test_accuracy"), "loss": score("test_loss")} if test else None,
        "training_time_s": score("fit_time"), "time_per_epoch_s": score("fit_time") / max(epochs_run, 1),
        "image_epochs": epochs_run * n_train, "kept_epoch": epochs_run,
        "data": {"n_train": n_train, "n_val": int(score("n_val"))}, "history": history,
    }


def _skipped(base: dict[str, Any], status: str, reason: str) -> dict[str, Any]:
    return {"state": TrialState.PRUNED, "value": None,
            "user_attrs": records.clean({**base, "status": status, "reason": reason})}
