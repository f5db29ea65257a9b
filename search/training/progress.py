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
    """Adds each epoch's wall time and the time since ``fit`` began to the epoch's logs.

    Written into the logs, the times land in Keras's own history, which is all
    scikeras keeps of a fold's ``fit``: both engines read a run's training
    time from the same place (``elapsed_s`` of its last epoch), so their
    times mean the same thing. Keras's History callback runs after the
    user's callbacks, so it records what this one adds.
    """

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []
        self._fit_start = self._start = 0.0

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.times = []
        self._fit_start = time.perf_counter()

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        now = time.perf_counter()
        self.times.append(now - self._start)
        if logs is not None:
            logs.update(epoch_time_s=self.times[-1], elapsed_s=now - self._fit_start)


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


class RunProgress(keras.callbacks.Callback):
    """Hands a running trial's progress to ``sink`` after every epoch, for live displays.

    The record (``trial``, run k of n, epoch k of N, the latest validation
    accuracy, training images per second) is what a search shows while a
    trial trains: written to the study, any process watching it can print it.
    Images per second count the epoch's steps times the batch size (the last,
    partial batch counted full), which is close enough for a display.

    scikit-learn clones an estimator's callbacks by deep copy; a copy of this
    one is the same object, so every fold of a grid point reports through it.
    """

    def __init__(self, sink: Any, batch_size: int, runs: int = 1) -> None:
        super().__init__()
        self.sink = sink
        self.batch_size = batch_size
        self.runs = runs
        self.run = 0
        self.image_epochs = 0
        self._start = 0.0

    def __deepcopy__(self, memo: dict[int, Any]) -> RunProgress:
        return self

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.run += 1

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        seconds = time.perf_counter() - self._start
        steps = int(self.params.get("steps") or 0)
        self.image_epochs += steps * self.batch_size
        val = logs.get("val_accuracy")
        self.sink({"run": self.run, "runs": self.runs, "epoch": epoch + 1, "epochs": int(self.params.get("epochs", 0)),
                   "val_accuracy": None if val is None else float(val), "accuracy": float(logs.get("accuracy", 0.0)),
                   "images_per_s": steps * self.batch_size / seconds if seconds > 0 else None,
                   "image_epochs": self.image_epochs, "at": time.time()})

