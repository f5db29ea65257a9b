"""Training and evaluation of one configuration, and writing its artifacts.

Names are imported lazily, so that reading a run's settings (``FitOptions``)
does not import Keras, scikit-learn or matplotlib.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ARTIFACTS": ".artifacts", "write_run": ".artifacts",
    "FitOptions": ".options",
    "TrainConfig": ".trainer", "TrainResult": ".trainer", "release_memory": ".trainer", "resolve": ".trainer",
    "train": ".trainer",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
