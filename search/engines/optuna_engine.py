"""Engine 2: Optuna studies with per-epoch pruning and the budget checked first.

The objective builds each sampled configuration without training to count its
parameters; one over budget is pruned at once with the count recorded, so it
never reaches ``fit``. A loss that turns NaN prunes the trial with the reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import optuna

from .. import records
from ..progress import TrialProgressSink
from ..spaces.budget import check_budget
from ..training import release_memory
from ..training.progress import RunProgress
from .evaluation import evaluate_configuration
from .pruning import Diverged, DivergenceGuard, PruningCallback

if TYPE_CHECKING:
    from ..data import Dataset
    from ..spaces import ParamCounter, Space


class Objective:
    """Budget check, then training and evaluation of one sampled configuration."""

    def __init__(self, space: Space, dataset: Dataset, counter: ParamCounter) -> None:
        self.space = space
        self.dataset = dataset
        self.counter = counter

    def __call__(self, trial: optuna.Trial) -> float:
        variant, hparams, epochs, batch_size = self.space.split_params(self.space.suggest(trial))
        set_attrs(trial, {"engine": "optuna", "variant": variant, "epochs": epochs, "batch_size": batch_size})
        verdict = check_budget(self.space, self.counter, variant, hparams)
        set_attrs(trial, verdict.attrs())
        if verdict.status is not None:
            set_attrs(trial, {"status": verdict.status, "reason": verdict.reason})
            raise optuna.TrialPruned(verdict.reason)
        validation = self.space.validation
        try:
            runs = evaluate_configuration(
                variant, hparams, epochs=epochs, batch_size=batch_size, dataset=self.dataset,
                seed=self.space.seed, method=validation.method, folds=validation.folds,
                repeats=validation.repeats, first_run_callbacks=self._pruning(trial),
                callbacks=(DivergenceGuard(), self._progress(trial, batch_size)), fit=self.space.fit_options(),
                evaluate_test=validation.evaluate_test,
            )
        except Diverged as exc:
            set_attrs(trial, {"status": records.STATUS_DIVERGED, "reason": str(exc), **_spent(exc)})
            raise
        except optuna.TrialPruned as exc:
            set_attrs(trial, {"status": records.STATUS_PRUNED, **_spent(exc)})
            raise
        finally:
            release_memory()
        summary = records.summarise_runs(runs, validation.method)
        set_attrs(trial, {"status": records.STATUS_COMPLETE, **summary})
        return summary["val_accuracy"]

    def _progress(self, trial: optuna.Trial, batch_size: int) -> RunProgress:
        validation = self.space.validation
        runs = validation.repeats * (validation.folds if validation.method == "kfold" else 1)
        return RunProgress(TrialProgressSink(trial), batch_size, runs)

    def _pruning(self, trial: optuna.Trial) -> list[PruningCallback]:
        return [] if self.space.optuna.pruner == "none" else [PruningCallback(trial)]


def _spent(exc: BaseException) -> dict[str, Any]:
    """The training a stopped trial consumed, which a search's compute total must include."""
    return {"image_epochs": int(getattr(exc, "image_epochs", 0))}


def set_attrs(trial: optuna.Trial, attrs: dict[str, Any]) -> None:
    """Record JSON-safe user attributes on a running trial."""
    for key, value in records.clean(attrs).items():
        trial.set_user_attr(key, value)
