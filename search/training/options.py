"""What ``fit`` needs of the training settings (:mod:`.settings`): the dtype policy and early stopping."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import keras


@contextlib.contextmanager
def precision(policy: str) -> Iterator[None]:
    """Build models under the dtype ``policy``; layers keep it after the block restores the global one."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


class RestoreBestEpoch(keras.callbacks.EarlyStopping):
    """Early stopping on validation accuracy that always ends on the best epoch's weights.

    The run's reported figures must come from the weights it keeps: the
    trainer reads :attr:`kept_epoch` and reports that epoch's validation
    figures (and evaluates the test set with its weights). Restoring is done
    here at the end of training whatever Keras version runs, since older
    Keras 3 releases restored only when they had stopped early.
    """

    def __init__(self, patience: int) -> None:
        super().__init__(monitor="val_accuracy", mode="max", patience=patience, restore_best_weights=True)
        self.kept_epoch: int | None = None  # 1-based

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        super().on_train_begin(logs)
        self.kept_epoch = None

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        super().on_train_end(logs)
        if self.best_weights is not None:
            self.model.set_weights(self.best_weights)
            self.kept_epoch = int(self.best_epoch) + 1


def kept_epoch(callbacks: list[keras.callbacks.Callback], epochs_run: int) -> int:
    """The epoch whose weights the model ends with: the restored best one, else the last."""
    for callback in callbacks:
        if isinstance(callback, RestoreBestEpoch) and callback.kept_epoch is not None:
            return callback.kept_epoch
    return epochs_run
