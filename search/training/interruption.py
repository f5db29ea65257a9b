"""A fit-side check that a Ctrl-C swallowed by Keras still stops training (see :mod:`search.interrupts`)."""

from __future__ import annotations

from typing import Any

import keras

from .. import interrupts


class InterruptCheck(keras.callbacks.Callback):
    """Re-raises a recorded Ctrl-C/SIGTERM before the batch after the one in which it was swallowed.

    Checked per batch because the swallowing happens while the first batch's
    step is traced: waiting for the epoch's end would train a whole epoch on.
    The *begin* hooks are used on purpose: Keras hands them no logs, so they
    cost no device sync, and overriding the *end* hooks would turn off Keras's
    asynchronous callback dispatch on the JAX and PyTorch backends.
    """

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        interrupts.raise_if_requested()

    def on_test_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        interrupts.raise_if_requested()

    def on_predict_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        interrupts.raise_if_requested()
