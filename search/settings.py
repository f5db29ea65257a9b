"""The base of the settings models, so that each setting is declared, and validated, once.

A data or training setting reaches a run three ways: a space file's section,
a ``best.json`` field, and Python or command-line code building it directly.
One pydantic model per concept serves all three. Inside a file it is
validated as part of the file, whose reader names the file and the key; built
directly, its constructor turns pydantic's report into one line
(:class:`SettingError`), which the CLI prints like any :class:`ConfigError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import ConfigError

# Strict: TOML and JSON have real types, so "10" (a string) or true (a bool) is never a number.
StrictInt = Annotated[int, Field(strict=True)]
StrictFloat = Annotated[float, Field(strict=True)]  # ints are accepted as floats
StrictBool = Annotated[bool, Field(strict=True)]
PositiveInt = Annotated[int, Field(strict=True, ge=1)]

Loc = tuple[str | int, ...]


class FieldError(ValueError):
    """A cross-field problem raised by a validator, with the key path (relative to its model) it is about."""

    def __init__(self, loc: Loc, message: str) -> None:
        super().__init__(message)
        self.loc = loc


class SettingError(ConfigError, ValueError):
    """A value a settings model refused; ``loc`` names the field and ``detail`` says what is wrong.

    Also a ``ValueError`` because pydantic calls a model's own ``__init__`` when the model is a
    field of another (a space's ``[data]``): the outer model then reports it as its own error,
    and :func:`unwrap` recovers pydantic's original one, located under the outer key.
    """

    def __init__(self, loc: Loc, detail: str, error: Mapping[str, Any] | None = None) -> None:
        super().__init__(f"{format_loc(loc)}: {detail}" if loc else detail)
        self.loc = loc
        self.detail = detail
        self.error = error


class Settings(BaseModel):
    """Frozen, no unknown keys, and a constructor whose errors are one-line :class:`SettingError`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            error = exc.errors()[0]
            raise SettingError(*describe(error), error=error) from None

    def replace(self, **changes: Any) -> Self:
        """A copy with ``changes``, validated again (``model_copy`` would not check them)."""
        return type(self)(**{**dict(self), **changes})

    def record(self) -> dict[str, Any]:
        """The settings as JSON-able values, as stored with a run's metrics."""
        return self.model_dump(mode="json")


def unwrap(error: Mapping[str, Any]) -> Mapping[str, Any]:
    """The error a nested settings model raised, with the outer model's key path in front of its own."""
    cause = (error.get("ctx") or {}).get("error")
    while isinstance(cause, SettingError) and cause.error is not None:
        error = {**cause.error, "loc": (*error.get("loc", ()), *cause.error.get("loc", ()))}
        cause = (error.get("ctx") or {}).get("error")
    return error


def describe(error: Mapping[str, Any]) -> tuple[Loc, str]:
    """(key path, readable message) of one pydantic error, without the "Value error, " prefix."""
    error = unwrap(error)
    loc = tuple(error.get("loc", ()))
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, FieldError):
        return loc + cause.loc, str(cause)
    message = str(cause) if isinstance(cause, Exception) else str(error.get("msg", "invalid value"))
    if message.startswith("Value error, "):
        message = message[len("Value error, "):]
    value = error.get("input")
    if isinstance(value, (str, int, float, bool)) and error.get("type") != "value_error":
        message += f" (got {value!r})"
    return loc, message


def format_loc(loc: tuple[Any, ...]) -> str:
    """``("search", "kernel", 0)`` as ``search.kernel[0]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out
