"""Running one claimed trial: its heartbeat, its time limit, and recording its outcome in the storage.

This is where a trial's result is recorded: the objective's value, or the
reason it failed, goes to the storage with :meth:`optuna.Study.tell`, once,
and a result another worker overtook (it failed the trial as dead and queued
a retry) is dropped rather than written twice. A Ctrl-C re-queues the trial
(:func:`requeue`) and propagates; a write in progress is never cut in half.

A trial that runs past the study's ``trial_timeout`` is failed by a watchdog
thread, which then ends the whole process (:data:`EXIT_HUNG`): a thread
cannot interrupt a main thread stuck in a C call (a deadlocked data loader,
a wedged GPU), but the process can end, and ``run --workers N`` starts a
fresh one in its place. A hang that holds the interpreter lock stops the
watchdog too; it also stops the heartbeat, so other workers fail the trial,
and ``run --workers N`` kills the process (see :mod:`search.runner`).
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from .. import interrupts, records
from ..compat import UpdateFinishedTrialError, hold_storage_writes, study_storage, trial_id
from ..errors import EXIT_HUNG, StorageError
from ..runtime import memory_usage
from ..storages.heartbeat import beating, in_background
from .recovery import REASON_ATTR, TIMED_OUT_ATTR, fail_and_retry, timeout_reason

HUNG_EXIT_GRACE = 30.0  # seconds the watchdog gives its own writes before it exits regardless

Objective = Callable[[optuna.Trial], float]


def run_trial(study: optuna.Study, trial: optuna.Trial, objective: Objective,
              time_limit: float | None = None) -> FrozenTrial:
    """Run one claimed trial to its end and record it; Ctrl-C re-queues it and propagates.

    The worker's memory after the trial is recorded with it (``memory``), so
    growth over a long-lived worker's trials can be seen in the study. Past
    ``time_limit`` seconds the trial is failed and this process exits
    (:func:`watchdog`).
    """
    try:
        with beating(study_storage(study), trial_id(trial)), watchdog(study, trial, time_limit):
            state, value = _call(objective, trial)
    except KeyboardInterrupt:  # in the objective, or on the way out of the heartbeat: the trial is re-queued
        requeue(study, trial, "interrupted (Ctrl-C or SIGTERM)")
        raise
    with interrupts.sigint_deferred() as interrupted:  # a result being written is not cut in half
        _set_attrs(trial, {"memory": memory_usage()})
        frozen = _finish(study, trial, state, value)
    if interrupted:
        raise KeyboardInterrupt
    return frozen


def _call(objective: Objective, trial: optuna.Trial) -> tuple[TrialState, float | None]:
    """The objective's outcome: a failure is recorded on the trial, an interrupt propagates.

    Keras swallows a ``KeyboardInterrupt`` that lands while it traces a
    training step (see :mod:`search.interrupts`), and the half-built step
    then fails with some other exception. An exception raised once a stop
    was requested is therefore taken for the interrupt it most likely is:
    the trial is re-queued rather than recorded as a failed configuration.
    """
    try:
        return TrialState.COMPLETE, objective(trial)
    except optuna.TrialPruned:
        return TrialState.PRUNED, None
    except StorageError:  # nothing can be recorded; the trial is recovered when the study resumes
        raise
    except Exception as exc:  # a failing trial must not stop the search
        interrupts.raise_if_requested()
        _set_attrs(trial, {"status": records.STATUS_FAILED, REASON_ATTR: describe_failure(exc)})
        return TrialState.FAIL, None


def requeue(study: optuna.Study, trial: optuna.Trial, reason: str) -> None:
    """Fail an interrupted trial and queue it again: an interrupt is never a death, whatever the trial retries."""
    with interrupts.sigint_deferred():  # a second Ctrl-C must not cut the write that re-queues the trial
        fail_and_retry(study, study_storage(study).get_trial(trial_id(trial)), reason, death=False)


@contextlib.contextmanager
def watchdog(study: optuna.Study, trial: optuna.Trial, limit: float | None) -> Iterator[None]:
    """Fail the trial and end this process if the block is still running after ``limit`` seconds."""
    if limit is None:
        yield
        return

    def watch(done: threading.Event) -> None:
        if not done.wait(limit):
            _abandon(study, trial, limit)

    with in_background(watch, f"watchdog-{trial.number}", join=False):
        yield


def _abandon(study: optuna.Study, trial: optuna.Trial, limit: float) -> None:
    """Record the hung trial as failed (and retried), then end the process, whatever its main thread does."""
    backstop = threading.Timer(HUNG_EXIT_GRACE, os._exit, (EXIT_HUNG,))  # the writes below may hang too
    backstop.daemon = True
    backstop.start()
    storage = study_storage(study)
    reason = timeout_reason(limit, f"its worker process exited (status {EXIT_HUNG}) to be replaced")
    try:
        fail_and_retry(study, storage.get_trial(trial_id(trial)), reason, **{TIMED_OUT_ATTR: True})
    except Exception as exc:  # still exit: other workers fail the trial once its process is gone
        print(f"trial {trial.number}: could not record the time-out ({exc})", file=sys.stderr, flush=True)
    print(f"trial {trial.number} {reason}; a fresh worker process should take this one's place "
          "(`run --workers N` starts one; run a standalone worker or in-process search again)",
          file=sys.stderr, flush=True)
    sys.stderr.flush()
    hold_storage_writes(storage, timeout=10.0)  # not in the middle of a write by the stuck thread
    os._exit(EXIT_HUNG)


def describe_failure(exc: BaseException) -> str:
    """One line for the failure, flagging out-of-memory errors whatever the backend calls them."""
    text = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
    # TensorFlow: ResourceExhaustedError / "OOM when allocating"; JAX (XLA): "RESOURCE_EXHAUSTED: Out of
    # memory"; PyTorch: torch.OutOfMemoryError ("CUDA out of memory") and, on the CPU, "can't allocate memory"
    oom = ("ResourceExhausted", "RESOURCE_EXHAUSTED", "out of memory", "OutOfMemory", "OOM when allocating",
           "MemoryError", "can't allocate memory")
    if any(marker.lower() in text.lower() for marker in oom):
        text = f"out of memory: {text}"
    return text[:500]


def _set_attrs(trial: optuna.Trial, attrs: Mapping[str, Any]) -> None:
    """Record ``attrs`` unless another worker already failed the trial (then :func:`_finish` says so)."""
    try:
        for key, value in attrs.items():
            trial.set_user_attr(key, value)
    except UpdateFinishedTrialError:
        pass


def _finish(study: optuna.Study, trial: optuna.Trial, state: TrialState, value: float | None) -> FrozenTrial:
    """Tell the storage the outcome; a value that is not a finite number fails the trial."""
    if state == TrialState.COMPLETE and (value is None or not math.isfinite(value)):
        failure = ValueError(f"objective returned {value!r}, not a finite accuracy")
        _set_attrs(trial, {"status": records.STATUS_FAILED, REASON_ATTR: describe_failure(failure)})
        state, value = TrialState.FAIL, None
    current = study_storage(study).get_trial(trial_id(trial))
    if current.state.is_finished():
        # Another worker failed this trial (its heartbeat looked dead) and queued a retry;
        # the retry's result will count, this one cannot be recorded.
        print(f"trial {trial.number} was failed by another worker while it ran here "
              f"({current.user_attrs.get(REASON_ATTR)}); its result is dropped and its retry counts",
              file=sys.stderr, flush=True)
        return current
    # skip_if_finished: the same can still happen between the look above and this write
    return study.tell(trial, value if state == TrialState.COMPLETE else None, state=state, skip_if_finished=True)
