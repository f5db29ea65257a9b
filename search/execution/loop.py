"""The loop every worker runs: claim a queued trial, run it (:mod:`.trial`), go on until no work is left.

One loop serves ``cnn-search run`` (in its own process), each process of
``run --workers N`` and each ``cnn-search worker`` on another host. It keeps
going while the queue has tickets, then stays while other workers still run
trials: if one of them dies, its trial is failed and re-queued (see
:mod:`.recovery`) and a survivor runs the retry. A failing trial (an
exception, running out of memory) is recorded as failed with its reason and
the loop goes on; Ctrl-C fails the current trial, re-queues it and stops. A
storage that cannot be written (:class:`~search.errors.StorageError`) stops
the loop: nothing can be recorded, and the trial is recovered when it resumes.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

import optuna
from optuna.trial import FrozenTrial, TrialState

from .. import interrupts
from ..compat import study_storage, trial_id
from ..storages.heartbeat import beat_once
from ..study.queue import claim, new_trial
from ..study.study import compute_exhausted, target_reached
from .recovery import recover, worker_attrs
from .settings import recovery_settings
from .trial import Objective, requeue, run_trial

TrialCallback = Callable[[optuna.Study, FrozenTrial], None]


@dataclass(frozen=True)
class LoopOptions:
    """When a worker stops, and how often it looks at the study while it waits."""

    timeout: float | None = None  # stop claiming new trials after this many seconds
    open_ended: bool = False  # no queue (a timeout-only study): create trials until the timeout
    poll_interval: float = 2.0
    stream: TextIO | None = None  # where "waiting for ..." notes go (None: stderr)
    trial_attrs: Mapping[str, Any] = field(default_factory=dict)  # recorded on every trial (device, seed)


def work(study: optuna.Study, objective: Objective, options: LoopOptions = LoopOptions(),
         callbacks: tuple[TrialCallback, ...] | list[TrialCallback] = ()) -> int:
    """Run trials until none is queued and none runs anywhere (or the timeout); returns how many ran here."""
    start = time.monotonic()
    ran = 0
    waiting_note = ""
    interrupts.reset()
    while options.timeout is None or time.monotonic() - start < options.timeout:
        recover(study)
        trial = _take(study, options)
        if trial is None:
            running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
            if not running:
                break
            note = (f"queue empty; waiting for {len(running)} trial(s) running elsewhere "
                    "(a trial whose worker dies is re-queued and run here)")
            if note != waiting_note:
                print(note, file=options.stream or sys.stderr, flush=True)
                waiting_note = note
            time.sleep(options.poll_interval)
            continue
        waiting_note = ""
        frozen = run_trial(study, trial, objective, recovery_settings(study).trial_timeout)
        ran += 1
        for callback in callbacks:
            callback(study, frozen)
    return ran


def _take(study: optuna.Study, options: LoopOptions) -> optuna.Trial | None:
    """Claim a trial and mark it this worker's, as one step a Ctrl-C cannot split.

    A trial claimed but not yet marked has no owner and no heartbeat, so no
    other worker could tell that it was abandoned. The first heartbeat comes
    before the owner, and the owner's host before its name: a worker killed
    between two of these writes (SIGKILL is not deferred) leaves either an
    unowned trial, failed once the grace period passes, or an owned one with a
    heartbeat and a host, never an owner that nothing can judge (a CI run once
    waited for such a trial for ten minutes).
    """
    interrupts.raise_if_requested()  # a Ctrl-C swallowed during the last trial stops the worker here
    if (not options.open_ended and target_reached(study)) or compute_exhausted(study):
        return None
    with interrupts.sigint_deferred() as interrupted:
        trial = new_trial(study) if options.open_ended else claim(study)
        if trial is not None:
            beat_once(study_storage(study), trial_id(trial))
            for key, attr in {**options.trial_attrs, **worker_attrs()}.items():  # the owner's name last
                trial.set_user_attr(key, attr)
    if interrupted:
        if trial is not None:
            requeue(study, trial, "interrupted (Ctrl-C) before it started")
        raise KeyboardInterrupt
    return trial
