"""Your own model: a builder function named by reference, read the way scikit-learn reads an estimator.

A reference is ``"path/to/models.py:create_model"`` (a file) or
``"package.module:create_model"`` (an importable module). The builder's
hyperparameters are its keyword parameters with defaults: ``Literal[...]``
annotations become choices, other annotations or the default's type give
the kind (bool, int, float, str), and ``input_shape`` / ``num_classes`` are
supplied from the data when the builder takes them, never searched. Because
a worker on another host must build the same model, a reference records the
sha256 of the builder's file, and a run that finds the file changed says so.

A callable passed from Python is registered under ``module:qualname`` and
lives in this process only.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .hparams import INT_MAX, INT_MIN, Bool, Choice, Float, HParam, Int, Text, Value

#: Builder parameters the data supplies; a space cannot set or search them.
DATA_PARAMS = ("input_shape", "num_classes")


@dataclass(frozen=True)
class BuilderRef:
    """Where a user builder came from: what a study and best.json record, and what a worker re-imports."""

    reference: str  # "file.py:function" with an absolute path, "package.module:function", or "module:qualname"
    file: str | None  # the file the function is defined in (None: no file, e.g. a notebook cell)
    sha256: str | None
    in_process: bool = False  # a Python callable: other processes cannot import it by this name
    params: tuple[str, ...] = ()  # the builder's own hyperparameters (its keyword parameters)

    def record(self) -> dict[str, Any]:
        return {"reference": self.reference, "sha256": self.sha256}


def is_reference(name: str) -> bool:
    """True for ``"something:function"``, the form the zoo's names never take."""
    return ":" in name


def absolute_reference(reference: str, base: str | Path) -> str:
    """``reference`` with a relative file path made absolute against ``base`` (a space file's folder)."""
    where, _, function = reference.rpartition(":")
    if not _is_file_path(where):
        return reference
    path = Path(where).expanduser()
    return f"{(Path(base) / path).resolve() if not path.is_absolute() else path}:{function}"


def load_builder(reference: str) -> tuple[Callable[..., Any], BuilderRef]:
    """Import the function a reference names; every problem is one line naming the reference."""
    where, _, function = reference.rpartition(":")
    if not where or not function.isidentifier():
        raise ConfigError(f"builder reference '{reference}': give FILE.py:FUNCTION or package.module:FUNCTION")
    module = _import_file(reference, Path(where).expanduser()) if _is_file_path(where) \
        else _import_module(reference, where)
    builder = getattr(module, function, None)
    if builder is None or not callable(builder):
        found = "not found" if builder is None else "not a function"
        raise ConfigError(f"builder reference '{reference}': '{function}' {found} in {where}")
    file = getattr(module, "__file__", None)
    return builder, BuilderRef(absolute_reference(reference, Path.cwd()), file, file_sha256(file))


def callable_reference(builder: Callable[..., Any]) -> BuilderRef:
    """The name a Python callable is registered under (this process only)."""
    module = getattr(builder, "__module__", None) or "__main__"
    name = getattr(builder, "__qualname__", None) or getattr(builder, "__name__", "builder")
    file = inspect.getsourcefile(builder) if _has_source(builder) else None
    return BuilderRef(f"{module}:{name}", file, file_sha256(file), in_process=True)


def file_sha256(file: str | None) -> str | None:
    if not file or not Path(file).is_file():
        return None
    return hashlib.sha256(Path(file).read_bytes()).hexdigest()


def check_unchanged(recorded: Mapping[str, Any], what: str) -> None:
    """Refuse to go on with a builder whose file changed since ``what`` recorded it."""
    reference, expected = recorded.get("reference"), recorded.get("sha256")
    if not reference or not expected:
        return
    from .registry import get_variant

    variant = get_variant(str(reference))
    now = variant.builder.sha256 if variant.builder else None
    if now is not None and now != expected:
        raise ConfigError(f"builder '{reference}': its file changed since {what} recorded it (sha256 "
                          f"{expected[:12]}... then, {now[:12]}... now), so its models may differ; restore the "
                          "file, or start a new study (--study NAME) / write a new best.json")


# --- the signature ------------------------------------------------------------------------------


def declarations(reference: str, builder: Callable[..., Any]) -> dict[str, HParam]:
    """The builder's hyperparameters from its signature (the data's parameters left out)."""
    try:
        signature = inspect.signature(builder)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"builder '{reference}': cannot read its signature ({exc})") from None
    hints = _type_hints(builder)
    out: dict[str, HParam] = {}
    for name, param in signature.parameters.items():
        if param.kind is inspect.Parameter.VAR_POSITIONAL:
            raise ConfigError(f"builder '{reference}': *{name} is not allowed; give every hyperparameter a name "
                              "and a default (def build(activation='relu', dropout=0.2, ...))")
        if param.kind is inspect.Parameter.VAR_KEYWORD or name in DATA_PARAMS:
            continue
        if param.default is inspect.Parameter.empty:
            raise ConfigError(f"builder '{reference}': parameter '{name}' has no default; every hyperparameter "
                              f"needs one (only {' and '.join(DATA_PARAMS)} are supplied, from the data)")
        out[name] = declaration(name, param.default, hints.get(name))
    return out


def data_params(builder: Callable[..., Any]) -> tuple[str, ...]:
    """Which of ``input_shape`` / ``num_classes`` the builder takes."""
    parameters = inspect.signature(builder).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    return tuple(name for name in DATA_PARAMS if name in parameters or takes_any)


def declaration(name: str, default: Any, hint: Any = None) -> HParam:
    """One parameter's declaration: ``Literal`` -> choices, else the annotated or the default's type."""
    doc = "your builder's parameter"
    optional, hint = _unwrap_optional(hint)
    optional = optional or default is None
    if typing.get_origin(hint) is typing.Literal:
        values = tuple(typing.get_args(hint)) + ((None,) if optional and None not in typing.get_args(hint) else ())
        return Choice(values, default, doc)
    kind = hint if isinstance(hint, type) else (type(default) if default is not None else None)
    if kind is bool:
        return Bool(default, doc)
    if kind is int:
        return Int(INT_MIN, INT_MAX, default, doc, optional=optional)
    if kind is float:
        return Float(float("-inf"), float("inf"), default, doc, high_inclusive=True, optional=optional)
    if kind is str:
        return Text(default, doc, optional=optional)
    return Value(default, doc)


def _unwrap_optional(hint: Any) -> tuple[bool, Any]:
    """``X | None`` / ``Optional[X]`` -> (True, X)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return len(args) < len(typing.get_args(hint)), args[0]
    return False, hint


def _type_hints(builder: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(builder)
    except Exception:  # an annotation that does not evaluate: fall back on the defaults' types
        return {}


# --- importing ------------------------------------------------------------------------------------


def _is_file_path(where: str) -> bool:
    return where.endswith(".py") or "/" in where or "\\" in where


def _import_file(reference: str, path: Path) -> types.ModuleType:
    if not path.is_file():
        raise ConfigError(f"builder reference '{reference}': {path}: no such file")
    resolved = path.resolve()
    digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:12]
    name = f"cnn_search_builder_{resolved.stem}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    _start_backend_quietly()  # the builder's file imports Keras: without its C++ start-up noise
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise ConfigError(f"builder reference '{reference}': {path} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # before executing it: pickling and dataclasses look modules up by name
    sys.path.insert(0, str(resolved.parent))  # its own imports of files beside it
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise ConfigError(f"builder reference '{reference}': importing {path} failed: "
                          f"{type(exc).__name__}: {_one_line(exc)}") from None
    finally:
        sys.path.remove(str(resolved.parent))
    return module


def _import_module(reference: str, module: str) -> types.ModuleType:
    _start_backend_quietly()
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ConfigError(f"builder reference '{reference}': cannot import {module} ({_one_line(exc)}); "
                          "name a file as FILE.py:FUNCTION, or make the module importable") from None
    except Exception as exc:
        raise ConfigError(f"builder reference '{reference}': importing {module} failed: "
                          f"{type(exc).__name__}: {_one_line(exc)}") from None


def _start_backend_quietly() -> None:
    from ..runtime import import_backend_quietly

    import_backend_quietly()


def _has_source(builder: Callable[..., Any]) -> bool:
    try:
        return inspect.getsourcefile(builder) is not None
    except TypeError:
        return False


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
