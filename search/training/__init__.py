"""Training and evaluation of one configuration, and writing its artifacts.

The settings (:mod:`.settings`) import no backend, so a space file validates
without Keras; the rest is imported on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from .settings import FitOptions, TrainingSettings

_LAZY = {"ARTIFACTS": "artifacts", "write_run": "artifacts", "TrainConfig": "trainer", "TrainResult": "trainer",
         "release_memory": "trainer", "resolve": "trainer", "train": "trainer"}

__all__ = ["ARTIFACTS", "FitOptions", "TrainConfig", "TrainResult", "TrainingSettings", "release_memory", "resolve",
           "train", "write_run"]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from ..runtime import import_backend_quietly

    import_backend_quietly()  # through the Python API too: no TensorFlow C++ start-up lines (cuInit, NodeDef)
    return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
