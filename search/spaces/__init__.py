"""Search-space files: the schema, the loader and the parameter-budget check.

``tables`` holds the file's parts (``[search]`` entries and sub-tables),
``schema`` the whole :class:`Space` and its checks, ``messages`` the one-line
errors both report through, ``loader`` the reading of a file.
"""

from ..data.settings import DataSettings
from ..training.settings import TrainingSettings
from .budget import BudgetError, ParamCounter, check_feasible
from .loader import load_space, validate_space_dict
from .messages import SpaceError
from .schema import Space
from .tables import Categorical, FloatRange, IntRange, OptunaSettings, ValidationSettings

__all__ = [
    "BudgetError", "Categorical", "DataSettings", "FloatRange", "IntRange", "OptunaSettings", "ParamCounter",
    "Space", "SpaceError", "TrainingSettings", "ValidationSettings", "check_feasible", "load_space",
    "validate_space_dict",
]
