"""How a run executes, as opposed to what it learns: the speed settings a space can turn on.

All are off by default because on this project's reference machine (a 2-core
CPU) none of the compiler-side ones paid off (see the README's performance
section); on GPUs they usually do, and early stopping saves epochs anywhere at
the cost of possibly stopping a slow starter.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError

if TYPE_CHECKING:
    import keras

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


@dataclass(frozen=True)
class FitOptions:
    """Compiler and loop settings for ``fit``; recorded with every run's metrics."""

    steps_per_execution: int = 1  # batches per compiled call: fewer host round trips on accelerators
    jit_compile: bool = False  # XLA: faster steps after a compile per new model; turns off deterministic ops
    precision: str = "float32"  # mixed_float16 for NVIDIA GPUs, mixed_bfloat16 for TPUs and recent CPUs
    early_stopping_patience: int | None = None  # stop after this many epochs without a better val accuracy

    def __post_init__(self) -> None:
        if not isinstance(self.steps_per_execution, int) or self.steps_per_execution < 1:
            raise ConfigError(f"steps_per_execution must be a positive integer, got {self.steps_per_execution!r}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        patience = self.early_stopping_patience
        if patience is not None and (not isinstance(patience, int) or patience < 1):
            raise ConfigError(f"early_stopping_patience must be a positive integer or none, got {patience!r}")

    @property
    def deterministic(self) -> bool:
        """Deterministic TensorFlow ops (same seed, same metrics), except under XLA, which Keras
        refuses to use while they are on: asking for ``jit_compile`` trades exact reruns for speed."""
        return not self.jit_compile

    def compile_kwargs(self) -> dict[str, Any]:
        return {"steps_per_execution": self.steps_per_execution, "jit_compile": self.jit_compile}

    def callbacks(self, validating: bool) -> list[keras.callbacks.Callback]:
        """Early stopping on the validation accuracy (only when there is a validation split)."""
        if self.early_stopping_patience is None or not validating:
            return []
        from .stopping import RestoreBestEpoch  # a Keras callback: imported only when training

        return [RestoreBestEpoch(self.early_stopping_patience)]

    def record(self) -> dict[str, Any]:
        return asdict(self)


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
