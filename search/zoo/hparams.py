"""Hyperparameter declarations.

Every variant declares its hyperparameters with a default and the values it
allows, so that one place validates a ``--set`` on the command line, a value in
a search-space file and a value sampled by Optuna. The same declarations tell
the search engines which distributions are legal for a name.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError

#: The bounds of an :class:`Int` that takes any integer (a user builder's ``int`` parameter).
INT_MIN, INT_MAX = -(2**63), 2**63 - 1

ACTIVATIONS = ("relu", "leaky_relu", "elu", "selu", "gelu", "sigmoid", "tanh")
OPTIMIZERS = ("adam", "adamw", "nadam", "sgd", "rmsprop", "adagrad", "adadelta")


class HParam:
    """Base of the declarations; ``validate`` returns the normalised value.

    ``changes_params`` says whether the value can change the network's weight
    count. The budget check builds one model per distinct combination of the
    hyperparameters that can, so a dropout rate or a learning rate declared
    with ``changes_params=False`` costs no extra build.
    """

    default: Any
    doc: str
    changes_params: bool
    used_when: Mapping[str, tuple[Any, ...]] | None

    def is_used(self, values: Mapping[str, Any]) -> bool:
        """Whether a configuration with ``values`` uses this hyperparameter at all.

        ``used_when`` names other hyperparameters and the values under which
        this one matters (``filters_3`` only in a network of 3 or more blocks):
        a configuration that does not use it lists it nowhere a person reads.
        """
        return not self.used_when or all(values.get(name) in allowed for name, allowed in self.used_when.items())

    def validate(self, name: str, value: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def allowed(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def parse(self, name: str, text: str) -> Any:
        """Turn a command-line string into a value, then validate it."""
        return self.validate(name, text)

    def _reject(self, name: str, value: Any) -> ConfigError:
        return ConfigError(f"hyperparameter '{name}' = {value!r} is not allowed; allowed: {self.allowed()}")


@dataclass(frozen=True)
class Choice(HParam):
    """One of a fixed set of values; strings match case-insensitively, as Keras's names do."""

    values: tuple[Any, ...]
    default: Any
    doc: str = ""
    changes_params: bool = True
    used_when: Mapping[str, tuple[Any, ...]] | None = None

    def validate(self, name: str, value: Any) -> Any:
        if isinstance(value, str):
            lowered = value.strip().lower()
            for allowed in self.values:
                if isinstance(allowed, str) and allowed.lower() == lowered:
                    return allowed
        for allowed in self.values:
            if not isinstance(allowed, str) and type(allowed) is type(value) and allowed == value:
                return allowed
        raise self._reject(name, value)

    def allowed(self) -> str:
        return "one of " + ", ".join(str(v) for v in self.values)


@dataclass(frozen=True)
class Int(HParam):
    """An integer in ``[low, high]``."""

    low: int
    high: int
    default: int | None
    doc: str = ""
    changes_params: bool = True
    used_when: Mapping[str, tuple[Any, ...]] | None = None
    optional: bool = False

    def validate(self, name: str, value: Any) -> int | None:
        if value is None and self.optional:
            return None
        if isinstance(value, bool):
            raise self._reject(name, value)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, str):
            try:
                value = int(value.strip())
            except ValueError:
                raise self._reject(name, value) from None
        if not isinstance(value, int) or not self.low <= value <= self.high:
            raise self._reject(name, value)
        return value

    def allowed(self) -> str:
        text = "an integer" if (self.low, self.high) == (INT_MIN, INT_MAX) else \
            f"an integer from {self.low} to {self.high}"
        return text + (" or none" if self.optional else "")


@dataclass(frozen=True)
class Float(HParam):
    """A float in ``[low, high)`` (or ``[low, high]``); ``optional`` admits None.

    ``None`` for a learning rate means "the optimizer's own Keras default",
    which is what the seed notebooks used when they passed optimizer names.
    """

    low: float
    high: float
    default: float | None
    doc: str = ""
    high_inclusive: bool = False
    optional: bool = False
    log: bool = False
    changes_params: bool = True
    used_when: Mapping[str, tuple[Any, ...]] | None = None

    def validate(self, name: str, value: Any) -> float | None:
        if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "default")):
            if self.optional:
                return None
            raise self._reject(name, value)
        if isinstance(value, bool):
            raise self._reject(name, value)
        if isinstance(value, str):
            try:
                value = float(value.strip())
            except ValueError:
                raise self._reject(name, value) from None
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self._reject(name, value)
        value = float(value)
        upper_ok = value <= self.high if self.high_inclusive else value < self.high
        if not (self.low <= value and upper_ok):
            raise self._reject(name, value)
        return value

    def allowed(self) -> str:
        bracket = "]" if self.high_inclusive else ")"
        text = "a number" if math.isinf(self.low) and math.isinf(self.high) else \
            f"a number in [{self.low:g}, {self.high:g}{bracket}"
        return text + (" or none (the optimizer's default)" if self.optional else "")


@dataclass(frozen=True)
class Bool(HParam):
    """True or false (also ``yes/no``, ``1/0`` from the command line)."""

    default: bool
    doc: str = ""
    changes_params: bool = True
    used_when: Mapping[str, tuple[Any, ...]] | None = None

    _TRUE = ("true", "yes", "1", "on")
    _FALSE = ("false", "no", "0", "off")

    def validate(self, name: str, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str):
            lowered = value.strip().lower()
            if lowered in self._TRUE:
                return True
            if lowered in self._FALSE:
                return False
        raise self._reject(name, value)

    def allowed(self) -> str:
        return "true or false"


@dataclass(frozen=True)
class Path(HParam):
    """An optional file path (e.g. pretrained weights); existence is checked at build time."""

    default: str | None = None
    doc: str = ""
    changes_params: bool = False  # pretrained weights change values, not the count
    used_when: Mapping[str, tuple[Any, ...]] | None = None

    def validate(self, name: str, value: Any) -> str | None:
        if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none")):
            return None
        if isinstance(value, str):
            return value
        raise self._reject(name, value)

    def allowed(self) -> str:
        return "a file path, or none"


@dataclass(frozen=True)
class Text(HParam):
    """Any string: a user builder's ``str`` parameter, whose allowed values only the builder knows."""

    default: str | None
    doc: str = ""
    changes_params: bool = True
    used_when: Mapping[str, tuple[Any, ...]] | None = None
    optional: bool = False

    def validate(self, name: str, value: Any) -> str | None:
        if value is None and self.optional:
            return None
        if isinstance(value, str):
            return value
        raise self._reject(name, value)

    def allowed(self) -> str:
        return "a string" + (" or none" if self.optional else "")


@dataclass(frozen=True)
class Value(HParam):
    """A string, number, boolean or none: a user builder's parameter with neither a type nor a typed default."""

    default: Any
    doc: str = ""
    changes_params: bool = True
    used_when: Mapping[str, tuple[Any, ...]] | None = None

    def validate(self, name: str, value: Any) -> Any:
        if value is None or isinstance(value, (str, bool, int, float)):
            return value
        raise self._reject(name, value)

    def allowed(self) -> str:
        return "a string, number, boolean or none"


@dataclass(frozen=True)
class HParamSpace:
    """The declared hyperparameters of one variant, in declaration order."""

    params: Mapping[str, HParam] = field(default_factory=dict)

    def names(self) -> list[str]:
        return list(self.params)

    def used(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """``values`` without the hyperparameters the configuration does not use."""
        return {k: v for k, v in values.items() if k not in self.params or self.params[k].is_used(values)}

    def changes_params(self, name: str) -> bool:
        """Whether ``name``'s value can change the weight count (an undeclared name is assumed to)."""
        spec = self.params.get(name)
        return spec is None or spec.changes_params

    def defaults(self) -> dict[str, Any]:
        return {name: spec.default for name, spec in self.params.items()}

    def get(self, variant: str, name: str) -> HParam:
        try:
            return self.params[name]
        except KeyError:
            valid = ", ".join(self.params) or "(none)"
            raise ConfigError(
                f"variant '{variant}' has no hyperparameter '{name}'; valid: {valid}"
            ) from None

    def resolve(self, variant: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Defaults overlaid with validated overrides: the full set a run records."""
        values = self.defaults()
        for name, value in (overrides or {}).items():
            values[name] = self.get(variant, name).validate(name, value)
        return values
