"""Per-epoch checks that stop a trial early: the pruner's verdict and a diverged loss."""

from __future__ import annotations

import math
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


class Diverged(optuna.TrialPruned):
    """The loss stopped being a finite number: further epochs cannot recover the run."""


class DivergenceGuard(keras.callbacks.Callback):
    """Stops a run whose training or validation loss is NaN or infinite at the end of an epoch.

    Checked per epoch, not per batch: a per-batch check would copy the loss
    from the device every step and slow every healthy trial down.
    """

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        for key in ("loss", "val_loss"):
            value = (logs or {}).get(key)
            if value is not None and not math.isfinite(float(value)):
                raise Diverged(f"{key} became {float(value)} at epoch {epoch + 1}")
