"""Finding trials whose worker died, and retrying each of them exactly once.

A trial whose worker was killed stays RUNNING in the storage. Any worker
fails it when its heartbeat has been silent for the grace period (any host)
or at once when its process is gone (a worker on the same host), recording
why, and enqueues one retry with the same parameters. Failing is a state
change the storage makes atomically, and only the worker whose change took
effect enqueues the retry, so two survivors never retry the same trial. A
trial stopped by Ctrl-C is failed and re-queued by its own worker on the way
out. A retry that dies too is not retried again.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from ..compat import (
    UpdateFinishedTrialError,
    heartbeat_grace_period,
    is_heartbeat_enabled,
    stale_trial_ids,
    study_id,
    study_storage,
    trial_id,
)
from .heartbeat import HeartbeatJournalStorage
from .queue import planned_params

WORKER_ATTR = "worker"
INTERRUPTED_ATTR = "interrupted"
RETRY_ATTR = "retry_of"
REASON_ATTR = "reason"


def worker_id() -> str:
    """``host:pid`` of this process, recorded on every trial it runs."""
    return f"{socket.gethostname()}:{os.getpid()}"


def recover(study: optuna.Study) -> list[int]:
    """Fail every RUNNING trial whose worker is dead and queue one retry each.

    Returns the numbers of the trials this call failed (and so re-queued).
    """
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    if not running:
        return []
    stale, grace = _stale(study)
    failed = []
    for trial in running:
        reason = _death(trial, stale, grace)
        if reason and fail_and_retry(study, trial, reason):
            failed.append(trial.number)
    return failed


def fail_and_retry(study: optuna.Study, trial: FrozenTrial, reason: str, **attrs: Any) -> bool:
    """Mark ``trial`` failed with ``reason``; if this call is the one that failed it, queue a retry.

    Returns False when the trial had already finished (another worker failed
    it first, or its own worker finished it after all).
    """
    storage = study_storage(study)
    try:
        for key, value in {REASON_ATTR: reason, INTERRUPTED_ATTR: True, **attrs}.items():
            storage.set_trial_user_attr(trial_id(trial), key, value)
        if not storage.set_trial_state_values(trial_id(trial), TrialState.FAIL):
            return False
    except UpdateFinishedTrialError:
        return False
    retry_once(study, storage.get_trial(trial_id(trial)))
    return True


def retry_once(study: optuna.Study, trial: FrozenTrial) -> bool:
    """Queue one more run of ``trial``'s configuration, unless it is itself a retry."""
    if RETRY_ATTR in trial.user_attrs:
        return False
    study.enqueue_trial(planned_params(trial), user_attrs={RETRY_ATTR: trial.number})
    return True


def _death(trial: FrozenTrial, stale: set[int], grace: int | None) -> str | None:
    """Why ``trial``'s worker is known to be dead, or None if it may be alive."""
    owner = trial.user_attrs.get(WORKER_ATTR)
    if owner is not None and _process_gone(owner):
        return f"worker {owner} died during the trial (its process is gone)"
    if trial_id(trial) in stale:
        return f"worker {owner or 'unknown'} stopped sending heartbeats (silent for more than {grace} s)"
    if owner is None and grace is not None and seconds_since(trial) > grace:
        return f"claimed by a worker that never started it (no heartbeat for {grace} s)"
    return None


def _stale(study: optuna.Study) -> tuple[set[int], int | None]:
    """Ids of the trials whose heartbeat is older than the grace period, and that period."""
    storage = study_storage(study)
    if not is_heartbeat_enabled(storage):
        return set(), None
    grace = heartbeat_grace_period(storage)  # RDBStorage
    if grace is None and isinstance(storage, HeartbeatJournalStorage):
        grace = storage.heartbeat.grace
    grace = int(grace if grace is not None else 2 * (storage.get_heartbeat_interval() or 0))
    return set(stale_trial_ids(storage, study_id(study))), grace


def _process_gone(owner: str) -> bool:
    """True if ``host:pid`` names a process on this host that no longer runs (or this process).

    This process is never inside a trial when it looks, so a RUNNING trial
    that names it was left behind by an earlier, interrupted run in it.
    """
    host, _, pid_text = owner.rpartition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    """A killed child that its parent has not reaped yet still answers ``kill(pid, 0)``."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def seconds_since(trial: FrozenTrial) -> float:
    """Seconds since the trial started (for "waiting for N running trials" messages)."""
    if trial.datetime_start is None:
        return 0.0
    return max(time.time() - trial.datetime_start.timestamp(), 0.0)
