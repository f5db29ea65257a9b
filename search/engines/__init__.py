"""The two search engines, as objectives over queued trials: GridSearchCV over scikeras, and Optuna.

``grid_engine`` wraps scikit-learn's ``GridSearchCV``; ``optuna_engine``
trains Optuna's sampled configurations with per-epoch pruning
(``pruning``); both score a configuration the same way (``evaluation``).
Where studies live is :mod:`search.storages`, the study and its queue
:mod:`search.study`, and how workers run trials and retry dead ones
:mod:`search.execution`.

Nothing heavy is imported here: the objectives need Keras (and scikeras), so
they are loaded on first use, and code that only reads a study never starts
a deep-learning backend.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..data import Dataset
    from ..execution.trial import Objective
    from ..spaces import ParamCounter, Space

_LAZY = {  # public name: (module, name there)
    "GridObjective": ("grid_engine", "GridObjective"),
    "StratifiedKerasClassifier": ("grid_engine", "StratifiedKerasClassifier"),
    "OptunaObjective": ("optuna_engine", "Objective"),
    "evaluate_configuration": ("evaluation", "evaluate_configuration"),
}

__all__ = ["make_objective", *sorted(_LAZY)]


def make_objective(space: Space, dataset: Dataset, counter: ParamCounter) -> Objective:
    """The engine's objective: GridSearchCV per grid point, or Optuna's sampled trials."""
    if space.engine == "grid":
        from .grid_engine import GridObjective

        return GridObjective(space, dataset, counter)
    from .optuna_engine import Objective as OptunaObjective

    return OptunaObjective(space, dataset, counter)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attr = _LAZY[name]
    return getattr(importlib.import_module(f".{module}", __name__), attr)
