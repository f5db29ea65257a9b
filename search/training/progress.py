"""Per-epoch timing and a one-line-per-epoch progress report.

Keras's own progress bars redraw per batch, which floods logs and non-TTY
output; searches and ``train`` want one line per epoch and the epoch's wall
time, which also feeds ``time_per_epoch`` in the metrics.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

import keras


class EpochTimer(keras.callbacks.Callback):
    """Records each epoch's wall time in seconds."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []
        self._start = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.times.append(time.perf_counter() - self._start)


class EpochPrinter(keras.callbacks.Callback):
    """Prints ``epoch 3/10  loss 0.412  acc 0.851  val_loss ...  2.1s`` per epoch."""

    def __init__(self, epochs: int, timer: EpochTimer, stream: TextIO | None = None) -> None:
        super().__init__()
        self.epochs = epochs
        self.timer = timer
        self.stream = stream or sys.stderr

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        parts = [f"epoch {epoch + 1}/{self.epochs}"]
        for key, label in (("loss", "loss"), ("accuracy", "acc"), ("val_loss", "val_loss"),
                           ("val_accuracy", "val_acc")):
            if key in logs:
                parts.append(f"{label} {float(logs[key]):.4f}")
        if self.timer.times:
            parts.append(f"{self.timer.times[-1]:.1f}s")
        print("  ".join(parts), file=self.stream, flush=True)
