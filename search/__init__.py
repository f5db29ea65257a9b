"""cnn-search: hyperparameter search and model comparison for Keras CNN classifiers.

The public API (what docs/python-api.md shows) is importable
from here; sub-packages are imported lazily so that, for example, reading the
dataset or a study's leaderboard does not start TensorFlow.

>>> from search import TrainConfig, train          # doctest: +SKIP
>>> result = train(TrainConfig("grid50k", epochs=2))  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "CnnSearchError": "errors", "ConfigError": "errors", "DataError": "errors",
    "DataOptions": "data", "Dataset": "data", "load_dataset": "data", "CLASS_NAMES": "data",
    "build_model": "zoo", "count_params": "zoo", "get_variant": "zoo", "list_variants": "zoo",
    "load_model": "zoo.saved",
    "TrainConfig": "training", "TrainResult": "training", "train": "training", "write_run": "training",
    "RunOptions": "runner", "resolve_space": "runner", "run_search": "runner",
    "leaderboard": "reports.leaderboard", "write_report": "reports.html",
    "BestSpec": "handoff", "best_spec": "handoff", "load_best": "handoff", "write_best": "handoff",
    "WorkerOptions": "workers.worker", "run_worker": "workers.worker",
}

__all__ = sorted(_EXPORTS)
#: Exports whose use starts Keras and its backend.
_BACKEND_MODULES = ("zoo", "zoo.saved", "training")


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'search' has no attribute {name!r}")
    if _EXPORTS[name] in _BACKEND_MODULES:  # as the CLI does: the backend starts without its C++ chatter
        from .runtime import import_backend_quietly

        import_backend_quietly()
    module = importlib.import_module(f".{_EXPORTS[name]}", __name__)
    return getattr(module, name)
