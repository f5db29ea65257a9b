"""Turning a space's validation errors into one line: ``"<source>: <key path>: <what is wrong>"``.

Both the loader (a file) and the space itself (a stored record, command-line
overrides) validate through :func:`validate_model`, which is why this sits
below both rather than in either.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ..errors import ConfigError
from ..settings import FieldError, describe, format_loc, unwrap
from .tables import ENTRIES, ENTRY_TAGS, SECTIONS, VariantSettings

M = TypeVar("M", bound=BaseModel)


class SpaceError(FieldError):
    """A cross-field problem of a space, with the location (a key path) it is about."""


def validate_model(model: type[M], data: Any, source: str) -> M:
    """``model`` validated from ``data``; any problem is a :class:`ConfigError` naming ``source`` and the key."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: a space must be a table of keys, got {type(data).__name__}")
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        # An unknown key (a typo) explains the "missing" error of the key it was meant to be: report it first.
        errors = sorted(exc.errors(), key=lambda e: unwrap(e).get("type") != "extra_forbidden")
        location, message = describe_error(errors[0], model)
        more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
        where = f"{location}: " if location else ""
        raise ConfigError(f"{source}: {where}{message}{more}") from None


def describe_error(error: Mapping[str, Any], root: type[BaseModel]) -> tuple[str, str]:
    """(dotted key path, readable message) of one pydantic error of a ``root`` model."""
    error = unwrap(error)
    loc = tuple(error.get("loc", ()))
    kind = error.get("type", "")
    cause = (error.get("ctx") or {}).get("error")
    tag = loc[2] if len(loc) >= 3 and loc[0] == "search" and loc[2] in ENTRY_TAGS else None
    clean = loc[:2] + loc[3:] if tag else loc
    if isinstance(cause, FieldError):
        return format_loc(clean + cause.loc), str(cause)
    if kind == "extra_forbidden":
        model = _model_at(root, loc[:-1], tag)
        fields = list(model.model_fields) if model is not None else []
        close = difflib.get_close_matches(str(loc[-1]), fields, n=1) if loc else []
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return format_loc(clean), f"unknown key{hint}" + (f"; allowed: {', '.join(fields)}" if fields else "")
    if kind == "missing":
        return format_loc(clean), "required key is missing"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return format_loc(clean), describe({**error, "msg": "should be a table"})[1]
    return format_loc(clean), describe(error)[1]


def _model_at(root: type[BaseModel], loc: tuple[Any, ...], tag: str | None) -> type[BaseModel] | None:
    if not loc:
        return root
    if len(loc) == 1:
        return SECTIONS.get(str(loc[0]))
    if loc[0] == "per_variant" and len(loc) == 2:
        return VariantSettings
    if loc[0] == "search" and tag is not None and len(loc) == 3:
        return ENTRIES.get(tag)
    return None
