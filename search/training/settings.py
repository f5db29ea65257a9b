"""The training settings, declared once: a space's ``[training]``, best.json's ``training``, ``TrainConfig.fit``.

How a run executes, as opposed to what it learns. All are off by default
because on this project's reference machine (a 2-core CPU) none of the
compiler-side ones paid off (see docs/performance.md); on GPUs
they usually do, and early stopping saves epochs anywhere at the cost of
possibly stopping a slow starter. No Keras here, so a space validates
without a backend; :mod:`.options` holds what ``fit`` needs of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from ..settings import PositiveInt, Settings, StrictBool

if TYPE_CHECKING:
    import keras

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


class FitOptions(Settings):
    """Compiler and loop settings for ``fit``; recorded with every run's metrics."""

    steps_per_execution: PositiveInt = 1  # batches per compiled call: fewer host round trips on accelerators
    jit_compile: StrictBool = False  # XLA: faster steps after a compile per new model; turns off deterministic ops
    precision: Literal[PRECISIONS] = "float32"  # type: ignore[valid-type]  # mixed_float16: NVIDIA; bfloat16: TPU
    early_stopping_patience: PositiveInt | None = None  # stop after this many epochs without a better val accuracy

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
        from .stopping import RestoreBestEpoch  # Keras: only when a run trains

        return [RestoreBestEpoch(self.early_stopping_patience)]


#: The name a space file's ``[training]`` section goes by.
TrainingSettings = FitOptions
