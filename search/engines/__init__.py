"""Search engines: GridSearchCV over scikeras, and Optuna studies, on one storage and one queue.

Names are imported lazily, so that reading a study (``storage``, ``study``)
does not import the grid engine and with it scikeras, Keras and TensorFlow.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "FIELDS": "..records",
    "make_objective": ".driver", "run_grid": ".driver", "run_optuna": ".driver", "run_study": ".driver",
    "StratifiedKerasClassifier": ".grid_engine",
    "Heartbeat": ".heartbeat",
    "describe_storage": ".storage", "load_existing_study": ".storage", "mask_url": ".storage",
    "open_storage": ".storage",
    "finished_trials": ".study", "open_study": ".study", "stored_space": ".study", "target_trials": ".study",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
