"""Finding trials whose process died, and retrying each of them once.

A trial interrupted by Ctrl-C is marked FAIL by Optuna; one whose process
was killed stays RUNNING forever. Both are retried exactly once with the same
parameters, so a resumed study ends with the number of trials asked for and
no configuration silently lost.
"""

from __future__ import annotations

import os
import socket

import optuna
from optuna.trial import FrozenTrial, TrialState

WORKER_ATTR = "worker"
INTERRUPTED_ATTR = "interrupted"
RETRY_ATTR = "retry_of"


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def recover_interrupted(study: optuna.Study) -> list[int]:
    """Fail this host's orphaned RUNNING trials, enqueue one retry per interrupted trial.

    Returns the numbers of the trials that were enqueued for a retry.
    """
    storage = study._storage
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if _orphaned(trial):
            storage.set_trial_user_attr(trial._trial_id, INTERRUPTED_ATTR, True)
            storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
    trials = study.get_trials(deepcopy=False)
    already = {t.user_attrs.get(RETRY_ATTR) for t in trials}
    retried = []
    for trial in trials:
        if (trial.state == TrialState.FAIL and trial.user_attrs.get(INTERRUPTED_ATTR)
                and RETRY_ATTR not in trial.user_attrs and trial.number not in already):
            study.enqueue_trial(trial.params, user_attrs={RETRY_ATTR: trial.number})
            retried.append(trial.number)
    return retried


def _orphaned(trial: FrozenTrial) -> bool:
    """True if the trial's process is gone (known only for processes on this host)."""
    owner = trial.user_attrs.get(WORKER_ATTR)
    if owner is None:
        return True
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, ValueError):
        return False
    return int(pid) == os.getpid()  # our own earlier, interrupted run in this process
