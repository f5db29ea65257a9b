"""Opening a study with the space's sampler and pruner, and what "done" means for it.

The space a study was created with is stored in the study itself, so a
worker on another host needs only the study name and the storage URL; a
different space under the same name is refused rather than mixed in.
"""

from __future__ import annotations

import warnings
import zlib
from typing import TYPE_CHECKING, Any

import optuna
from optuna.trial import TrialState

from .. import records
from ..errors import ConfigError

if TYPE_CHECKING:
    from ..spaces import Space

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
SPACE_ATTR = "space"
BUILDERS_ATTR = "builders"  # {reference: {"reference", "sha256"}} of the user builders the space names
TARGET_ATTR = "target_trials"  # the finished-trial count the last `cnn-search run` asked for
COMPUTE_ATTR = "max_image_epochs"  # the compute budget the last `cnn-search run` set (None: none)
TRIAL_COMPUTE_ATTR = "trial_image_epochs"  # the most one trial of the study can train


def make_sampler(space: Space, seed: int | None = None) -> optuna.samplers.BaseSampler:
    """The space's sampler, seeded with ``seed`` (default: the space's seed).

    Workers of one study pass different seeds: samplers seeded alike would
    propose the same configurations in parallel. A grid is run from queued
    points whose values are all fixed, so no sampler is consulted for it.
    """
    name = space.optuna.sampler
    seed = space.seed if seed is None else seed
    if space.is_grid:
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    if name == "qmc":  # the sequence is shared by all workers, so they must share its seed
        return optuna.samplers.QMCSampler(seed=space.seed, warn_independent_sampling=False)
    settings = space.optuna
    with warnings.catch_warnings():
        # multivariate/group are "experimental"; constraints_func is deprecated from Optuna 5.0 in favour
        # of Trial.set_constraint, which the 4.x releases we support do not have
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        warnings.simplefilter("ignore", FutureWarning)
        # constant_liar: a worker samples away from configurations other workers are still training
        return optuna.samplers.TPESampler(
            seed=seed, constant_liar=True, n_startup_trials=settings.n_startup_trials,
            multivariate=settings.multivariate, group=settings.multivariate,
            constraints_func=budget_constraint if settings.budget_constraint and space.max_params else None,
            warn_independent_sampling=False)


def resumed_sampler_seed(seed: int, trials_before: int) -> int:
    """The sampler seed of a run that finds ``trials_before`` trials in its study.

    A sampler restarts its random sequence in every process: seeded alike, a
    resumed run (or a run that raises ``--n-trials``) would propose the
    start-up configurations the study already has. A fresh study uses the
    space's seed; a resumed one a seed derived from it and the trials already
    there, so the study stays reproducible from its seed and its history.
    """
    if trials_before == 0:
        return seed
    return zlib.crc32(f"{seed}:{trials_before}".encode()) % 2**32


def budget_constraint(trial: optuna.trial.FrozenTrial) -> tuple[float]:
    """TPE's constraint: budgeted parameters minus ``max_params`` (<= 0 is feasible).

    The engines record ``budget_excess`` before anything trains, so the
    sampler learns the feasible region from every trial, the over-budget
    ones included; a trial that failed before its count is recorded is
    treated as feasible (it says nothing about the budget).
    """
    return (float(trial.user_attrs.get("budget_excess", 0)),)


def make_pruner(space: Space) -> optuna.pruners.BasePruner:
    name, first = space.optuna.pruner, space.optuna.min_epochs
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=first)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=first, max_resource=max_epochs(space))
    if name == "successive-halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=first)
    return optuna.pruners.NopPruner()


def max_epochs(space: Space) -> int:
    searched = space.search.get("epochs") if space.search else None
    if isinstance(searched, list):
        return max(int(v) for v in searched)
    if searched is not None and hasattr(searched, "high"):
        return int(searched.high)
    return max(space.training_setting(name, "epochs") for name in space.variant_names())


def open_study(space: Space, storage: optuna.storages.BaseStorage, sampler_seed: int | None = None) -> optuna.Study:
    """Create or load the study; a different space under the same name is refused."""
    study = optuna.create_study(study_name=space.study, storage=storage, load_if_exists=True,
                                direction="maximize", sampler=make_sampler(space, sampler_seed),
                                pruner=make_pruner(space))
    record = space.to_record()
    stored = study.user_attrs.get(SPACE_ATTR)
    if stored is None:
        study.set_user_attr(SPACE_ATTR, record)
        study.set_user_attr("engine", space.engine)
        study.set_user_attr(BUILDERS_ATTR, space.builders())
    elif _comparable(_current(stored)) != _comparable(record):
        raise ConfigError(f"study '{space.study}' already exists in this storage with a different space; "
                          "run it under another name with --study NAME")
    else:
        check_builders(study)
    return study


def check_builders(study: optuna.Study) -> None:
    """Refuse to add trials built by a user builder whose file changed since the study started."""
    from ..zoo.builders import check_unchanged

    for recorded in (study.user_attrs.get(BUILDERS_ATTR) or {}).values():
        check_unchanged(recorded, f"study '{study.study_name}'")


def stored_space(study: optuna.Study) -> Space:
    """The space a study was created with, validated again (a worker's whole instructions)."""
    from ..spaces import Space

    record = study.user_attrs.get(SPACE_ATTR)
    if record is None:
        raise ConfigError(f"study '{study.study_name}' was not created by cnn-search (it has no stored space); "
                          "create it with `cnn-search run SPACE.toml --storage URL --workers 0`")
    space = Space.from_record(record)
    check_builders(study)
    return space


def finished_trials(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=FINISHED))


def target_reached(study: optuna.Study) -> bool:
    """True once finished plus running trials make the study's stored target (a lowered
    ``--n-trials`` leaves queued trials that no worker should start)."""
    target = study.user_attrs.get(TARGET_ATTR)
    if target is None:
        return False
    return len(study.get_trials(deepcopy=False, states=(*FINISHED, TrialState.RUNNING))) >= target


def compute_used(study: optuna.Study) -> int:
    """Images x epochs trained by the study's trials so far, running ones included (from their progress)."""
    return records.image_epochs_trained(study.get_trials(deepcopy=False))


def trial_image_epochs(space: Space, n_train: int, n_trainval: int) -> int:
    """The most one trial can train: its largest epochs on every run's training images.

    ``n_train`` is the holdout training split (each of ``repeats`` runs trains
    on it), ``n_trainval`` what k-fold splits (each of ``folds`` runs trains on
    all but one fold).
    """
    if space.validation.method == "kfold":
        folds = space.validation.folds
        return max_epochs(space) * folds * (n_trainval - n_trainval // folds)
    return max_epochs(space) * space.validation.repeats * n_train


def compute_committed(study: optuna.Study) -> int:
    """What the study's trials have trained, plus what the running ones may still train.

    A running trial is counted at the most it can train (the study's
    :data:`TRIAL_COMPUTE_ATTR`) until it has trained more than that; a pruner
    that stops it early only frees budget, so the total never passes the cap.
    """
    planned = int(study.user_attrs.get(TRIAL_COMPUTE_ATTR) or 0)
    total = 0
    for trial in study.get_trials(deepcopy=False):
        if trial.state == TrialState.RUNNING:
            trained = int((trial.user_attrs.get(records.PROGRESS_ATTR) or {}).get("image_epochs") or 0)
            total += max(planned, trained)
        else:
            total += int(trial.user_attrs.get("image_epochs") or 0)
    return total


def compute_exhausted(study: optuna.Study) -> bool:
    """True once the compute budget (``max_image_epochs``) cannot take one more whole trial.

    A trial is admitted only if it fits at its largest (:func:`trial_image_epochs`)
    beside everything trained and everything the running trials may still
    train, so the budget is a hard bound: a search never trains more than
    ``max_image_epochs``, however many workers run at once.
    """
    cap = study.user_attrs.get(COMPUTE_ATTR)
    if cap is None:
        return False
    return compute_committed(study) + int(study.user_attrs.get(TRIAL_COMPUTE_ATTR) or 0) > cap


def target_trials(space: Space) -> int | None:
    """How many finished trials the study should end with (None: until the timeout)."""
    if space.is_grid:
        return len(space.grid_points())
    return space.optuna.n_trials


def _current(record: dict[str, Any]) -> dict[str, Any]:
    """A stored space in today's form (settings added since it was stored take their defaults)."""
    from ..spaces import Space

    try:
        return Space.from_record(record).to_record()
    except ConfigError:
        return record


def _comparable(record: dict[str, Any]) -> dict[str, Any]:
    """The parts of a space that define the experiment (not how long to run it)."""
    out = {k: v for k, v in record.items() if k not in ("optuna", "n_jobs", "recovery")}
    optuna_part = dict(record.get("optuna") or {})
    for key in ("n_trials", "timeout"):
        optuna_part.pop(key, None)
    out["optuna"] = optuna_part
    return out
