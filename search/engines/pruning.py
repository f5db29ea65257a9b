"""Per-epoch reporting to an Optuna trial, so pruners can stop weak trials early."""

from __future__ import annotations

from typing import Any

import keras
import optuna


class PruningCallback(keras.callbacks.Callback):
    """Reports validation accuracy each epoch and raises ``TrialPruned`` when told to."""

    def __init__(self, trial: optuna.Trial, monitor: str = "val_accuracy") -> None:
        super().__init__()
        self.trial = trial
        self.monitor = monitor

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        value = (logs or {}).get(self.monitor)
        if value is None:
            return
        self.trial.report(float(value), step=epoch + 1)
        if self.trial.should_prune():
            self.trial.set_user_attr("pruned_at_epoch", epoch + 1)
            raise optuna.TrialPruned(f"pruned at epoch {epoch + 1} ({self.monitor}={float(value):.4f})")
