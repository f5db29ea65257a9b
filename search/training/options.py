"""What ``fit`` needs of the training settings (:mod:`.settings`): the dtype policy and early stopping."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import keras


@contextlib.contextmanager
def precision(policy: str) -> Iterator[None]:
    """Build models under the dtype ``policy``; layers keep it after the block restores the global one."""
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def kept_epoch(callbacks: list[keras.callbacks.Callback], epochs_run: int) -> int:
    """The epoch whose weights the model ends with: the restored best one, else the last."""
    from .stopping import RestoreBestEpoch

    for callback in callbacks:
        if isinstance(callback, RestoreBestEpoch) and callback.kept_epoch is not None:
            return callback.kept_epoch
    return epochs_run
