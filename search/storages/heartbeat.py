"""Heartbeats: how a study notices that a worker died in the middle of a trial.

A worker killed with SIGKILL (or a host that loses power) never tells the
storage that its trial ended, so the trial would stay RUNNING for ever and the
study would never reach its count. Optuna's RDB storage records a heartbeat
per running trial and fails trials whose heartbeat is older than a grace
period (:func:`optuna.storages.fail_stale_trials`); its journal storage has no
heartbeat, so :class:`HeartbeatJournalStorage` adds one in the same shape,
storing the beat as a trial system attribute in the journal itself.

Workers of one study must agree on how long a silent trial is tolerated: a
worker that judged by its own ``--heartbeat 5`` would fail the live trials of
one that beats every 60 s. So the heartbeat is stored in the study when it is
created and every worker adopts it (:func:`fix_heartbeat`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import optuna
from optuna.storages import BaseStorage, JournalStorage
from optuna.trial import TrialState

from ..compat import BaseHeartbeat, HeartbeatStorage, StaleCallback
from ..compat import trial_id as storage_id

HEARTBEAT_ATTR = "cnn_search:heartbeat"
HEARTBEAT_SETTINGS_ATTR = "heartbeat_settings"  # {"interval": s, "grace": s}: fixed when the study is created

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Heartbeat:
    """How often a running trial reports, and how long silence is tolerated.

    The grace period is several intervals so that a busy host (a long
    training step holding the interpreter, a slow database round trip) is
    not mistaken for a dead one.
    """

    interval: int = 10
    grace_factor: int = 5

    @property
    def grace(self) -> int:
        return self.interval * self.grace_factor


class HeartbeatJournalStorage(JournalStorage, HeartbeatStorage):
    """Optuna's journal storage with the heartbeat protocol of its RDB storage.

    Beats are wall-clock times written by the worker and compared with the
    reader's clock, so the journal file should be shared by hosts whose
    clocks agree (the same host, or NTP-synchronised hosts on a shared disk).
    """

    def __init__(self, backend: optuna.storages.journal.BaseJournalBackend, heartbeat: Heartbeat) -> None:
        super().__init__(backend)
        self.heartbeat = heartbeat

    def record_heartbeat(self, trial_id: int) -> None:
        self.set_trial_system_attr(trial_id, HEARTBEAT_ATTR, time.time())

    def find_stale_trial_ids(self, study_id: int) -> list[int]:
        now = time.time()
        stale = []
        for trial in self.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,)):
            beat = trial.system_attrs.get(HEARTBEAT_ATTR)
            if beat is not None and now - float(beat) > self.heartbeat.grace:
                stale.append(storage_id(trial))
        return stale

    def get_heartbeat_interval(self) -> int | None:
        return self.heartbeat.interval

    def get_heartbeat_stale_trial_callback(self) -> StaleCallback | None:
        return None  # stale trials are failed and retried by search.execution.recovery, which records why


def beat_once(storage: BaseStorage, trial_id: int) -> None:
    """Record one heartbeat now (no-op for storages without heartbeats)."""
    if isinstance(storage, BaseHeartbeat) and storage.get_heartbeat_interval() is not None:
        storage.record_heartbeat(trial_id)


@contextlib.contextmanager
def beating(storage: BaseStorage, trial_id: int) -> Iterator[None]:
    """Record the trial's heartbeat now and every interval until the block ends.

    A failed beat (a database hiccup) is logged and retried at the next
    interval rather than ending the thread: one missed beat is within the
    grace period, a dead thread would get a healthy trial failed.
    """
    if not isinstance(storage, BaseHeartbeat) or storage.get_heartbeat_interval() is None:
        yield
        return
    interval = storage.get_heartbeat_interval()

    def beat(stop: threading.Event) -> None:
        while not stop.wait(interval):
            try:
                storage.record_heartbeat(trial_id)
            except Exception as exc:  # keep beating; the grace period absorbs a miss
                _log.warning("heartbeat of trial id %s failed: %s", trial_id, exc)

    storage.record_heartbeat(trial_id)  # the first beat before any work, so a crash at once is caught
    with in_background(beat, f"heartbeat-{trial_id}"):
        yield


@contextlib.contextmanager
def in_background(task: Callable[[threading.Event], None], name: str, join: bool = True) -> Iterator[None]:
    """Run ``task(stop)`` in a daemon thread while the block runs; ``stop`` is set when the block ends.

    ``join=False`` does not wait for the thread (a watchdog that is ending
    the process must not hold up the block that outlived it).
    """
    stop = threading.Event()
    thread = threading.Thread(target=task, args=(stop,), name=name, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        if join:
            thread.join()


def stored_heartbeat(study: optuna.Study) -> Heartbeat | None:
    """The heartbeat the study was created with (None: a study older than this setting)."""
    stored = study.user_attrs.get(HEARTBEAT_SETTINGS_ATTR)
    if not stored:
        return None
    interval = int(stored["interval"])
    return Heartbeat(interval, max(int(stored["grace"]) // interval, 1))


def fix_heartbeat(study: optuna.Study, heartbeat: Heartbeat) -> Heartbeat:
    """The study's heartbeat: ``heartbeat`` is stored if the study has none yet, else the stored one wins."""
    stored = stored_heartbeat(study)
    if stored is not None:
        return stored
    study.set_user_attr(HEARTBEAT_SETTINGS_ATTR, {"interval": heartbeat.interval, "grace": heartbeat.grace})
    return heartbeat


def heartbeat_note(asked: int | None, used: Heartbeat) -> str | None:
    """What to tell a user whose ``--heartbeat`` the study overrides (None: nothing to say)."""
    if asked is None or asked == used.interval:
        return None
    return (f"--heartbeat {asked} ignored: this study's workers beat every {used.interval} s and a trial silent "
            f"for {used.grace} s is failed (fixed when the study was created, so that every worker judges alike)")
