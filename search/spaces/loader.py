"""Reading a search-space file and turning every problem into one line.

``load_space`` raises :class:`~search.errors.ConfigError` with a message of
the form ``"<path>: <key path>: <what is wrong and what is allowed>"`` for a
missing file, invalid TOML, an unknown key, a wrong type, a value the
variant does not allow, or a budget no configuration can meet.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from ..errors import ConfigError
from .budget import BudgetError, check_feasible
from .schema import (
    ENTRY_TAGS,
    Categorical,
    DataSettings,
    FloatRange,
    IntRange,
    OptunaSettings,
    Space,
    SpaceError,
    TrainingSettings,
    ValidationSettings,
    VariantSettings,
)

_SECTIONS: dict[str, type[BaseModel]] = {"optuna": OptunaSettings, "validation": ValidationSettings,
                                         "data": DataSettings, "training": TrainingSettings}
_ENTRIES: dict[str, type[BaseModel]] = {"int": IntRange, "float": FloatRange, "categorical": Categorical}


def load_space(path: str | Path, check_budget: bool = True) -> Space:
    """Read, validate and (when it has ``max_params``) budget-check a space file."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: no such file")
    if not path.is_file():
        raise ConfigError(f"{path}: not a file")
    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: invalid TOML: the file is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    space = validate_space_dict(data, source=str(path))
    if check_budget:
        try:
            check_feasible(space)
        except BudgetError as exc:
            raise ConfigError(f"{path}: max_params: {exc.detail}") from None
    return space


def validate_space_dict(data: Mapping[str, Any], source: str = "<dict>") -> Space:
    """Validate an already-parsed space; errors name ``source`` and the key."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: a space must be a table of keys, got {type(data).__name__}")
    try:
        return Space.model_validate(dict(data))
    except ValidationError as exc:
        errors = exc.errors()
        location, message = describe_error(errors[0])
        more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
        where = f"{location}: " if location else ""
        raise ConfigError(f"{source}: {where}{message}{more}") from None


def describe_error(error: Mapping[str, Any]) -> tuple[str, str]:
    """(dotted key path, readable message) of one pydantic error."""
    loc = tuple(error.get("loc", ()))
    kind = error.get("type", "")
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, SpaceError):
        return format_loc(cause.loc), str(cause)
    tag = loc[2] if len(loc) >= 3 and loc[0] == "search" and loc[2] in ENTRY_TAGS else None
    clean = loc[:2] + loc[3:] if tag else loc
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1], tag)
        allowed = ", ".join(model.model_fields) if model is not None else ""
        return format_loc(clean), "unknown key" + (f"; allowed: {allowed}" if allowed else "")
    if kind == "missing":
        return format_loc(clean), "required key is missing"
    message = str(error.get("msg", "invalid value"))
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        message = "should be a table"
    if isinstance(cause, Exception):
        message = str(cause)
    elif message.startswith("Value error, "):
        message = message[len("Value error, "):]
    value = error.get("input")
    if isinstance(value, (str, int, float, bool)) and kind not in ("value_error",):
        message += f" (got {value!r})"
    return format_loc(clean), message


def format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _model_at(loc: tuple[Any, ...], tag: str | None) -> type[BaseModel] | None:
    if not loc:
        return Space
    if len(loc) == 1:
        return _SECTIONS.get(str(loc[0]))
    if loc[0] == "per_variant" and len(loc) == 2:
        return VariantSettings
    if loc[0] == "search" and tag is not None and len(loc) == 3:
        return _ENTRIES.get(tag)
    return None
