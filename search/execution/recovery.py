"""Finding trials whose worker died or hung, and retrying each of them a bounded number of times.

A trial whose worker was killed stays RUNNING in the storage. Any worker
fails it when its heartbeat has been silent for the grace period (any host),
at once when its process is gone (a worker on the same host: the same boot
and PID namespace, see :func:`host_identity`), or when it has run past the
study's per-trial time limit plus the grace period (a hung worker whose own
watchdog could not act), recording why, and enqueues a retry with the same
parameters. Failing is a state change the storage makes atomically, and only
the worker whose change took effect enqueues the retry, so two survivors
never retry the same trial.

Deaths and interrupts are told apart. A trial stopped by Ctrl-C or SIGTERM
is failed and re-queued by its own worker on the way out, always, whatever
it is a retry of: the user stopped it, it did not fail. A death (a killed
worker, a silent heartbeat, a hung trial) counts against the study's
``max_retries``; a trial whose chain of runs has died more often than that
is failed for good, with the count in its reason.
"""

from __future__ import annotations

import os
import socket
import time
from functools import cache
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
from ..records import INTERRUPTED_ATTR  # there, not here: reports read it without this layer
from ..storages.heartbeat import HeartbeatJournalStorage
from ..study.queue import planned_params
from .settings import recovery_settings

WORKER_ATTR = "worker"
HOST_ATTR = "worker_host"  # boot id + PID namespace of the worker (see host_identity)
RETRY_ATTR = "retry_of"
DEATHS_ATTR = "deaths"  # deaths so far in the chain of runs this trial belongs to
TIMED_OUT_ATTR = "timed_out"
REASON_ATTR = "reason"


def worker_id() -> str:
    """``host:pid`` of this process, recorded on every trial it runs (for people; see :func:`host_identity`)."""
    return f"{socket.gethostname()}:{os.getpid()}"


@cache
def host_identity() -> str | None:
    """Which PID space this process lives in: the kernel's boot id plus the PID namespace (None: unknown).

    A hostname does not say that: containers with host networking or a
    compose ``hostname:`` share one while their PIDs are unrelated, so a PID
    looked up by hostname alone could name another container's process (or
    none) and a live trial would look dead. Two processes with the same boot
    id and PID namespace see the same PIDs. Where either cannot be read (not
    Linux), no process is judged by its PID and the heartbeat decides.
    """
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as fh:
            boot = fh.read().strip()
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        return None
    return f"{boot}/{namespace}" if boot and namespace else None


def worker_attrs() -> dict[str, Any]:
    """What a worker records on a trial it claims, so that others can tell whether it still runs.

    In writing order: the host first, so a trial that names its worker also says where it ran.
    """
    return {HOST_ATTR: host_identity(), WORKER_ATTR: worker_id()}


def recover(study: optuna.Study) -> list[int]:
    """Fail every RUNNING trial whose worker is dead and queue one retry each.

    Returns the numbers of the trials this call failed (and so re-queued).
    """
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    if not running:
        return []
    stale, grace = _stale(study)
    limit = recovery_settings(study).trial_timeout
    failed = []
    for trial in running:
        reason = _death(trial, stale, grace)
        timed_out = reason is None and limit is not None and seconds_since(trial) > limit + (grace or 0)
        if timed_out:
            reason = timeout_reason(limit, "its worker did not stop it (wedged?)")
        if reason and fail_and_retry(study, trial, reason, **({TIMED_OUT_ATTR: True} if timed_out else {})):
            failed.append(trial.number)
    return failed


def timeout_reason(limit: float, what: str) -> str:
    return f"ran past the per-trial time limit of {limit:g} s (trial_timeout); {what}"


def fail_and_retry(study: optuna.Study, trial: FrozenTrial, reason: str, *, death: bool = True,
                   **attrs: Any) -> bool:
    """Mark ``trial`` failed with ``reason``; if this call is the one that failed it, queue a retry.

    ``death=False`` is an interrupt: the retry is always queued and the
    chain's death count is unchanged. A death is retried while the chain has
    died at most the study's ``max_retries`` times. Returns False when the
    trial had already finished (another worker failed it first, or its own
    worker finished it after all).
    """
    storage = study_storage(study)
    deaths = int(trial.user_attrs.get(DEATHS_ATTR, 0)) + (1 if death else 0)
    limit = recovery_settings(study).max_retries
    if death and deaths > limit:
        reason += f"; not retried: this configuration's runs died {deaths} times (max_retries = {limit})"
    try:
        for key, value in {REASON_ATTR: reason, INTERRUPTED_ATTR: True, **attrs}.items():
            storage.set_trial_user_attr(trial_id(trial), key, value)
        if not storage.set_trial_state_values(trial_id(trial), TrialState.FAIL):
            return False
    except UpdateFinishedTrialError:
        return False
    if deaths <= limit or not death:
        study.enqueue_trial(planned_params(storage.get_trial(trial_id(trial))),
                            user_attrs={RETRY_ATTR: trial.number, DEATHS_ATTR: deaths})
    return True


def _death(trial: FrozenTrial, stale: set[int], grace: int | None) -> str | None:
    """Why ``trial``'s worker is known to be dead, or None if it may be alive."""
    owner = trial.user_attrs.get(WORKER_ATTR)
    if owner is not None and _process_gone(owner, trial.user_attrs.get(HOST_ATTR)):
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


def _process_gone(owner: str, host: str | None) -> bool:
    """True if ``host:pid`` names a process in this PID space that no longer runs (or this process).

    Only a worker that recorded the same :func:`host_identity` as ours is
    judged by its PID; any other (another host, another container with the
    same hostname, a trial recorded before identities were) is left to its
    heartbeat. This process is never inside a trial when it looks, so a
    RUNNING trial that names it was left behind by an earlier, interrupted
    run in it.
    """
    _, _, pid_text = owner.rpartition(":")
    if host is None or host != host_identity() or not pid_text.isdigit():
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
