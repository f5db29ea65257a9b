"""Engine 2: Optuna studies with per-epoch pruning and the budget checked first.

The objective builds each sampled configuration without training to count its
parameters; one over budget is pruned at once with the count recorded, so it
never reaches ``fit``. The study lives in a storage, so re-running the same
command resumes it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import optuna
from optuna.trial import TrialState

from ..errors import ConfigError
from ..training import release_memory
from . import records
from .evaluation import evaluate_configuration
from .pruning import PruningCallback
from .recovery import INTERRUPTED_ATTR, WORKER_ATTR, recover_interrupted, worker_id

if TYPE_CHECKING:
    from ..data import Dataset
    from ..spaces import ParamCounter, Space

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
TrialCallback = Callable[[optuna.Study, optuna.trial.FrozenTrial], None]


def make_sampler(space: Space) -> optuna.samplers.BaseSampler:
    name, seed = space.optuna.sampler, space.seed
    if name == "grid":
        return optuna.samplers.GridSampler(space.grid_search_space(), seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    if name == "qmc":
        return optuna.samplers.QMCSampler(seed=seed, warn_independent_sampling=False)
    return optuna.samplers.TPESampler(seed=seed)


def make_pruner(space: Space) -> optuna.pruners.BasePruner:
    name = space.optuna.pruner
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max_epochs(space))
    if name == "successive-halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1)
    return optuna.pruners.NopPruner()


def max_epochs(space: Space) -> int:
    searched = space.search.get("epochs") if space.search else None
    if isinstance(searched, list):
        return max(int(v) for v in searched)
    if searched is not None and hasattr(searched, "high"):
        return int(searched.high)
    return space.epochs


class Objective:
    """Budget check, then training and evaluation of one sampled configuration."""

    def __init__(self, space: Space, dataset: Dataset, counter: ParamCounter) -> None:
        self.space = space
        self.dataset = dataset
        self.counter = counter

    def __call__(self, trial: optuna.Trial) -> float:
        trial.set_user_attr(WORKER_ATTR, worker_id())
        variant, hparams, epochs, batch_size = self.space.split_params(self.space.suggest(trial))
        base = {"engine": "optuna", "variant": variant, "epochs": epochs, "batch_size": batch_size}
        _set_attrs(trial, base)
        params = self._check_budget(trial, variant, hparams)
        validation = self.space.validation
        try:
            runs, history = evaluate_configuration(
                variant, hparams, epochs=epochs, batch_size=batch_size, dataset=self.dataset,
                seed=self.space.seed, method=validation.method, folds=validation.folds,
                repeats=validation.repeats, first_run_callbacks=self._pruning(trial),
            )
        except optuna.TrialPruned:
            trial.set_user_attr("status", records.STATUS_PRUNED)
            raise
        except KeyboardInterrupt:
            trial.set_user_attr(INTERRUPTED_ATTR, True)
            raise
        except Exception as exc:
            _set_attrs(trial, {"status": records.STATUS_FAILED, "reason": f"{type(exc).__name__}: {exc}"[:500]})
            raise
        finally:
            release_memory()
        summary = records.summarise_runs(runs)
        _set_attrs(trial, {"status": records.STATUS_COMPLETE, "params": params, **summary, "history": history})
        return summary["val_accuracy"]

    def _check_budget(self, trial: optuna.Trial, variant: str, hparams: dict[str, Any]) -> int:
        try:
            params = self.counter.count(variant, hparams)
        except ConfigError as exc:
            _set_attrs(trial, {"status": records.STATUS_INVALID, "reason": str(exc)})
            raise optuna.TrialPruned(str(exc)) from None
        trial.set_user_attr("params", params)
        budget = self.space.max_params
        if budget is not None and params > budget:
            trial.set_user_attr("status", records.STATUS_OVER_BUDGET)
            raise optuna.TrialPruned(f"{params:,} params > max_params {budget:,}")
        return params

    def _pruning(self, trial: optuna.Trial) -> list[PruningCallback]:
        return [] if self.space.optuna.pruner == "none" else [PruningCallback(trial)]


def open_study(space: Space, storage: optuna.storages.BaseStorage) -> optuna.Study:
    """Create or load the study; a different space under the same name is refused."""
    study = optuna.create_study(study_name=space.study, storage=storage, load_if_exists=True,
                                direction="maximize", sampler=make_sampler(space), pruner=make_pruner(space))
    record = space.to_record()
    stored = study.user_attrs.get("space")
    if stored is None:
        study.set_user_attr("space", record)
        study.set_user_attr("engine", space.engine)
    elif _comparable(stored) != _comparable(record):
        raise ConfigError(f"study '{space.study}' already exists in this storage with a different space; "
                          "run it under another name with --study NAME")
    return study


def finished_trials(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=FINISHED))


def target_trials(space: Space) -> int | None:
    """How many finished trials the study should end with (None: until the timeout)."""
    if space.optuna.sampler == "grid":
        return len(space.grid_points())
    return space.optuna.n_trials


def run_optuna(space: Space, storage: optuna.storages.BaseStorage, dataset: Dataset, counter: ParamCounter,
               callbacks: list[TrialCallback] = ()) -> optuna.Study:
    """Run (or resume) the study until it holds ``target_trials`` finished trials or times out."""
    study = open_study(space, storage)
    recover_interrupted(study)
    target = target_trials(space)
    remaining = None if target is None else target - finished_trials(study)
    if remaining is not None and remaining <= 0:
        return study
    study.optimize(Objective(space, dataset, counter), n_trials=remaining, timeout=space.optuna.timeout,
                   callbacks=list(callbacks), catch=(Exception,), gc_after_trial=True)
    return study


def _set_attrs(trial: optuna.Trial, attrs: dict[str, Any]) -> None:
    for key, value in records.clean(attrs).items():
        trial.set_user_attr(key, value)


def _comparable(record: dict[str, Any]) -> dict[str, Any]:
    """The parts of a space that define the experiment (not how long to run it)."""
    out = {k: v for k, v in record.items() if k not in ("optuna", "n_jobs")}
    optuna_part = dict(record.get("optuna") or {})
    for key in ("n_trials", "timeout"):
        optuna_part.pop(key, None)
    out["optuna"] = optuna_part
    return out
