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
from ..zoo.builders import absolute_reference, is_reference
from .budget import BudgetError, check_feasible, counter_for_space
from .messages import validate_model
from .schema import Space


def load_space(path: str | Path, check_budget: bool = True, data_dir: str | Path | None = None) -> Space:
    """Read, validate and (when it has ``max_params``) budget-check a space file.

    A builder reference (``variant = "models.py:create_model"``) and a data
    ``path`` are relative to the space file's folder, so the file works from
    any working directory; the study records them absolute. The budget is
    checked on models built for the data's image shape and classes
    (``data_dir``: where Fashion-MNIST's files are, as ``--data-dir``).
    """
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
    space = validate_space_dict(relative_to(data, path.parent), source=str(path))
    if check_budget:
        check_space_budget(space, path, data_dir)
    return space


def check_space_budget(space: Space, path: str | Path, data_dir: str | Path | None = None) -> None:
    """Refuse a space none of whose configurations fits its ``max_params`` on its data, naming the file."""
    if space.max_params is None:
        return
    try:
        check_feasible(space, counter_for_space(space, data_dir))
    except BudgetError as exc:
        raise ConfigError(f"{path}: max_params: {exc.detail}") from None


def relative_to(data: Mapping[str, Any], base: Path) -> dict[str, Any]:
    """``data`` with its builder references and data path made absolute against ``base``."""
    out = dict(data)
    if isinstance(out.get("variant"), str) and is_reference(out["variant"]):
        out["variant"] = absolute_reference(out["variant"], base)
    if isinstance(out.get("variants"), list):
        out["variants"] = [absolute_reference(v, base) if isinstance(v, str) and is_reference(v) else v
                           for v in out["variants"]]
    if isinstance(out.get("per_variant"), Mapping):  # keyed by the variants' names, as written
        out["per_variant"] = {absolute_reference(k, base) if is_reference(k) else k: v
                              for k, v in out["per_variant"].items()}
    section = out.get("data")
    if isinstance(section, Mapping) and isinstance(section.get("path"), str):
        given = Path(section["path"]).expanduser()
        out["data"] = {**section, "path": str(given if given.is_absolute() else (base / given).resolve())}
    return out


def validate_space_dict(data: Mapping[str, Any], source: str = "<dict>") -> Space:
    """Validate an already-parsed space; errors name ``source`` and the key."""
    return validate_model(Space, data, source)
