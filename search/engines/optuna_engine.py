"""Engine 2: Optuna studies with per-epoch pruning and the budget checked first.

The objective builds each sampled configuration without training to count its
parameters; one over budget is pruned at once with the count recorded, so it
never reaches ``fit``. A loss that turns NaN prunes the trial with the reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import optuna

from ..errors import ConfigError
from ..training import release_memory
from . import records
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
        params = self._check_budget(trial, variant, hparams)
        validation = self.space.validation
        try:
            runs, history = evaluate_configuration(
                variant, hparams, epochs=epochs, batch_size=batch_size, dataset=self.dataset,
                seed=self.space.seed, method=validation.method, folds=validation.folds,
                repeats=validation.repeats, first_run_callbacks=self._pruning(trial),
                callbacks=(DivergenceGuard(),), fit=self.space.fit_options(),
            )
        except Diverged as exc:
            set_attrs(trial, {"status": records.STATUS_DIVERGED, "reason": str(exc)})
            raise
        except optuna.TrialPruned:
            trial.set_user_attr("status", records.STATUS_PRUNED)
            raise
        finally:
            release_memory()
        summary = records.summarise_runs(runs)
        set_attrs(trial, {"status": records.STATUS_COMPLETE, "params": params, **summary, "history": history})
        return summary["val_accuracy"]

    def _check_budget(self, trial: optuna.Trial, variant: str, hparams: dict[str, Any]) -> int:
        try:
            params = self.counter.count(variant, hparams)
        except ConfigError as exc:
            set_attrs(trial, {"status": records.STATUS_INVALID, "reason": str(exc)})
            raise optuna.TrialPruned(str(exc)) from None
        trial.set_user_attr("params", params)
        budget = self.space.max_params
        if budget is not None and params > budget:
            trial.set_user_attr("status", records.STATUS_OVER_BUDGET)
            raise optuna.TrialPruned(f"{params:,} params > max_params {budget:,}")
        return params

    def _pruning(self, trial: optuna.Trial) -> list[PruningCallback]:
        return [] if self.space.optuna.pruner == "none" else [PruningCallback(trial)]


def set_attrs(trial: optuna.Trial, attrs: dict[str, Any]) -> None:
    """Record JSON-safe user attributes on a running trial."""
    for key, value in records.clean(attrs).items():
        trial.set_user_attr(key, value)
