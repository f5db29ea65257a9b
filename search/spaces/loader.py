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

from ..errors import ConfigError
from .budget import BudgetError, check_feasible
from .messages import validate_model
from .schema import Space


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
    return validate_model(Space, data, source)
