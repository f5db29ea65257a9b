"""Loading a saved ``model.keras`` in a fresh process.

The recipe's label-smoothing loss and the cutout layer are registered with
Keras when their modules are imported, and the zoo imports them only when it
builds a model that uses them (so reading results needs no backend). A user
who only wants predictions from a committed run would otherwise meet
"Could not locate class 'SmoothedSparseCrossentropy'"; this imports them first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def load_model(path: str | Path, compile: bool = True) -> Any:
    """Load a ``model.keras`` written by ``cnn-search train`` (it takes raw 0-255 pixels)."""
    import keras

    from . import augmentation, losses  # noqa: F401  (register the custom objects)

    return keras.saving.load_model(Path(path), compile=compile)
