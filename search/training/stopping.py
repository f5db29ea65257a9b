"""The early-stopping callback (a module of its own so that a run's settings import no Keras)."""

from __future__ import annotations

from typing import Any

import keras


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
