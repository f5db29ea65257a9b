"""Search-space files: the schema, the loader and the parameter-budget check."""

from .budget import BudgetError, ParamCounter, check_feasible
from .loader import load_space, validate_space_dict
from .schema import (
    Categorical,
    DataSettings,
    FloatRange,
    IntRange,
    OptunaSettings,
    Space,
    SpaceError,
    ValidationSettings,
)

__all__ = [
    "BudgetError", "Categorical", "DataSettings", "FloatRange", "IntRange", "OptunaSettings", "ParamCounter",
    "Space", "SpaceError", "ValidationSettings", "check_feasible", "load_space", "validate_space_dict",
]
