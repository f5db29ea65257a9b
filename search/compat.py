"""Every call into a dependency's private API, in one place, with the versions each one serves.

Optuna offers no public way to claim a queued trial without creating one, to
list the trials whose heartbeat went silent, or to reach a trial's storage
id; TensorFlow none to turn op determinism off again or to forget the
custom gradients of a traced graph. Those calls are not covered by the
dependencies' deprecation policies and break without notice, so they all
live here: when a dependency moves, this is the one file to read and fix.
CI runs the fast tests against the lowest versions pyproject.toml declares
(``.ci/lowest-versions.txt``) as well as the whole suite against the
newest, so both ends of each range are exercised.

The private names used below are the same in Optuna 4.3 to 5.0 and
TensorFlow 2.16 to 2.21 unless a branch says otherwise (run: Optuna 4.3,
4.8 and 5.0, TensorFlow 2.19 and 2.21; read in the sources: Optuna 4.9,
TensorFlow 2.16). Optuna 4.2 is not supported, and not for a private call:
its journal file lock has no grace period, so a worker killed while it
holds the lock stops every other worker for ever.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any

import optuna
from optuna.exceptions import UpdateFinishedTrialError  # Optuna >= 4.3; 4.2 raised a bare RuntimeError
from optuna.storages import BaseStorage
from optuna.storages._heartbeat import BaseHeartbeat, is_heartbeat_enabled
from optuna.trial import FrozenTrial

StaleCallback = Callable[[optuna.Study, FrozenTrial], None]

__all__ = [
    "BaseHeartbeat", "HeartbeatStorage", "RDB_BACKEND_PRIVATE_CALLS", "StaleCallback", "UpdateFinishedTrialError",
    "disable_op_determinism", "heartbeat_grace_period", "hold_storage_writes", "is_heartbeat_enabled",
    "pop_waiting_trial_id", "stale_trial_ids", "study_id", "study_storage", "tf_gradient_registry", "trial_id",
]


# --- Optuna ------------------------------------------------------------------------------------------------


class HeartbeatStorage(BaseHeartbeat):
    """Optuna's heartbeat protocol (``BaseHeartbeat``) with public names for its private and renamed methods.

    Optuna finds stale trials through the private ``_get_stale_trial_ids``
    (Optuna 4.2 to 5.0); subclasses implement :meth:`find_stale_trial_ids`.
    Optuna 4.9 renamed the abstract ``get_failed_trial_callback`` to
    ``get_heartbeat_stale_trial_callback`` (the old name stays, deprecated,
    until 6.0), and a storage that implements only one of them cannot be
    instantiated on the other side of 4.9: subclasses implement the new
    name and this class answers the old one, which Optuna < 4.9 calls.
    """

    @abc.abstractmethod
    def find_stale_trial_ids(self, study_id: int) -> list[int]:
        """Ids of the study's RUNNING trials whose heartbeat is older than the grace period."""

    @abc.abstractmethod
    def get_heartbeat_stale_trial_callback(self) -> StaleCallback | None:
        """What Optuna calls for each trial it fails as stale (None: nothing)."""

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        return self.find_stale_trial_ids(study_id)

    def get_failed_trial_callback(self) -> StaleCallback | None:  # Optuna < 4.9
        return self.get_heartbeat_stale_trial_callback()


#: The private ``RDBStorage`` methods Optuna's caching wrapper calls (Optuna 4.3 to 5.0; 4.3 has no
#: ``_set_trial_param``/``_get_best_trial_id`` and calls the public names instead). A storage that
#: retries its queries after a lost connection must wrap these as well as the public methods.
RDB_BACKEND_PRIVATE_CALLS = ("_create_new_trial", "_set_trial_param", "_get_best_trial_id", "_get_trials",
                             "_get_stale_trial_ids")


def study_storage(study: optuna.Study) -> BaseStorage:
    """The storage a study reads and writes (``Study._storage``; Optuna 4.2 to 5.0).

    For an RDB URL this is Optuna's caching wrapper around the ``RDBStorage``.
    """
    return study._storage


def study_id(study: optuna.Study) -> int:
    """The study's id in its storage (``Study._study_id``; Optuna 4.2 to 5.0)."""
    return study._study_id


def trial_id(trial: optuna.Trial | FrozenTrial) -> int:
    """The trial's id in its storage, unlike ``number`` unique across studies (``_trial_id``; Optuna 4.2 to 5.0)."""
    return trial._trial_id


def pop_waiting_trial_id(study: optuna.Study) -> int | None:
    """Atomically move one WAITING trial to RUNNING and return its id, or None if none waits.

    This is the first half of ``Study.ask`` (Optuna 4.2 to 5.0), without its
    fallback of creating a new trial. The per-thread trial cache is cleared
    first, as ``ask`` does, so the sampler sees trials other workers finished.
    """
    study._thread_local.cached_all_trials = None
    return study._pop_waiting_trial_id()


def stale_trial_ids(storage: BaseStorage, study_id: int) -> list[int]:
    """Ids of the study's RUNNING trials whose heartbeat is older than the grace period.

    ``BaseHeartbeat._get_stale_trial_ids`` (abstract there, implemented by
    ``RDBStorage``, Optuna's caching wrapper and our journal storage; Optuna 4.2 to 5.0).
    """
    assert isinstance(storage, BaseHeartbeat)
    return list(storage._get_stale_trial_ids(study_id))


def heartbeat_grace_period(storage: BaseStorage) -> int | None:
    """The ``grace_period`` an ``RDBStorage`` was opened with (None: not an RDB storage, or not set).

    Optuna wraps an ``RDBStorage`` in a caching storage that keeps it as
    ``_backend`` (Optuna 4.2 to 5.0); ``grace_period`` itself is a public attribute.
    """
    backend = getattr(storage, "_backend", storage)
    grace = getattr(backend, "grace_period", None)
    return None if grace is None else int(grace)


def hold_storage_writes(storage: BaseStorage, timeout: float) -> bool:
    """Take the journal storage's write lock for good, so that the process can end between two writes.

    ``JournalStorage._thread_lock`` (Optuna 4.3 to 5.0) guards every append
    of this process; holding it before ``os._exit`` means no record is cut
    in half by the exit. Other storages (a database) are transactional: True
    without waiting. False if the lock was not free within ``timeout``.
    """
    lock = getattr(storage, "_thread_lock", None)
    return True if lock is None else lock.acquire(timeout=timeout)


# --- TensorFlow (imported only when called: the Keras backend may be another one) -------------------------


def disable_op_determinism() -> None:
    """Undo ``tf.config.experimental.enable_op_determinism`` (TensorFlow 2.16 to 2.21).

    TensorFlow exports only the switch on; its ``config.disable_op_determinism``
    is the same flag's other side, used by TensorFlow's own tests.
    """
    from tensorflow.python.framework import config

    config.disable_op_determinism()


def tf_gradient_registry() -> dict[str, Any] | None:
    """TensorFlow's process-wide ``{op name: gradient function}`` registry, or None if it cannot be reached.

    ``ops._gradient_registry._registry`` (TensorFlow 2.16 to 2.21). Callers may
    delete entries; None (TensorFlow missing, or the registry moved) means
    there is nothing to prune.
    """
    try:
        from tensorflow.python.framework import ops
    except ImportError:
        return None
    registry = getattr(getattr(ops, "_gradient_registry", None), "_registry", None)
    return registry if isinstance(registry, dict) else None
