"""The study's queue of trials to run, so that any number of workers run exactly the trials asked for.

Optuna's ``optimize(n_trials=...)`` counts per process: four workers asked
for 12 trials run 48, and a stop callback that counts the study overshoots by
the trials already started. Instead the study itself holds the work to do, as
WAITING trials ("tickets") that :func:`top_up` enqueues once, before workers
start: an empty ticket per trial still to sample (the sampler fills it in when
it is claimed), or for a grid one ticket per grid point not yet done, with the
point's values fixed. A worker :func:`claim`\\ s a ticket by moving it from
WAITING to RUNNING, which the storage does atomically (Optuna's own trial
queue), so no ticket runs twice and no grid point is evaluated twice.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import optuna
from optuna.trial import TrialState

from ..compat import pop_waiting_trial_id
from .study import COMPUTE_ATTR, FINISHED, TARGET_ATTR, TRIAL_COMPUTE_ATTR, target_trials, trial_image_epochs

if TYPE_CHECKING:
    from ..data import Dataset
    from ..spaces import Space

FIXED_PARAMS = "fixed_params"  # the system attribute in which Optuna keeps an enqueued trial's values


def top_up(study: optuna.Study, space: Space, dataset: Dataset | None = None) -> int:
    """Enqueue the tickets the study still needs to reach its target; returns how many.

    Only the process that starts a search calls this (``cnn-search run``), so
    two callers never race to add the same tickets; workers only claim them.
    The target and the compute budget are stored with the study, so workers
    stop at them even when an earlier, larger target left tickets queued; with
    the ``dataset``, so is the most one trial can train, which makes the
    budget a hard bound (:func:`~.study.compute_exhausted`).
    """
    study.set_user_attr(TARGET_ATTR, target_trials(space))
    study.set_user_attr(COMPUTE_ATTR, space.optuna.max_image_epochs)
    if dataset is not None:
        study.set_user_attr(TRIAL_COMPUTE_ATTR, trial_image_epochs(space, len(dataset.y_train),
                                                                   len(dataset.y_trainval)))
    if space.is_grid:
        return _top_up_grid(study, space)
    target = target_trials(space)
    if target is None:  # a timeout-only study has no count to reach
        return 0
    missing = target - len(study.get_trials(deepcopy=False, states=(*FINISHED, TrialState.RUNNING,
                                                                      TrialState.WAITING)))
    for _ in range(missing):
        study.enqueue_trial({})
    return max(missing, 0)


def _top_up_grid(study: optuna.Study, space: Space) -> int:
    """One ticket per grid point that is neither done, running nor queued (failed points are redone)."""
    present = [planned_params(t) for t in study.get_trials(deepcopy=False)
               if t.state != TrialState.FAIL]
    added = 0
    for point in space.grid_points():
        if point not in present:
            study.enqueue_trial(point)
            added += 1
    return added


def planned_params(trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
    """The values a trial runs with: its ticket's fixed values over the parameters sampled so far.

    A worker killed between two ``suggest`` calls leaves a trial with only part
    of its grid point in ``params``; the ticket still holds the whole point, so
    a retry built from it runs the same point rather than a half-sampled one.
    """
    return {**trial.params, **(trial.system_attrs.get(FIXED_PARAMS) or {})}


def claim(study: optuna.Study) -> optuna.Trial | None:
    """Move one queued ticket to RUNNING for this worker, or None when the queue is empty.

    This is what :meth:`optuna.Study.ask` does minus its fallback of creating
    a fresh trial when nothing is queued: that fallback is what would let
    concurrent workers overshoot. Like ``ask`` it first drops the trial cache,
    so the sampler sees the trials other workers finished since this
    worker's last trial.
    """
    trial_id = pop_waiting_trial_id(study)
    return None if trial_id is None else optuna.Trial(study, trial_id)


def new_trial(study: optuna.Study) -> optuna.Trial:
    """A fresh trial, for timeout-only studies that have no count to keep exact."""
    with warnings.catch_warnings():  # "heartbeat is supposed to be used with optimize": ours beats itself
        warnings.simplefilter("ignore")
        return study.ask()


def queued(study: optuna.Study) -> int:
    """Tickets still waiting for a worker."""
    return len(study.get_trials(deepcopy=False, states=(TrialState.WAITING,)))
