"""The variant registry: names users type, mapped to declared builders.

A variant is data (name, provenance, hyperparameter declarations, training
defaults) plus one function that builds the uncompiled network; compiling,
validation and parameter counting are done here once for all of them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from ..errors import ConfigError
from .hparams import HParam, HParamSpace
from .layers import total_params, trainable_params
from .training_recipe import compile_classifier

if TYPE_CHECKING:
    import keras

    from ..data.normalization import PixelNormalization

Builder = Callable[[dict[str, Any]], "keras.Model"]


@dataclass(frozen=True)
class Variant:
    """A named model family; ``build`` gets the full, validated hyperparameters."""

    name: str
    summary: str
    source: str
    space: HParamSpace
    build: Builder
    epochs: int
    batch_size: int
    #: Default rates for optimizers given by name in the Keras the seed ran (empty: Keras 3's).
    optimizer_rates: Mapping[str, float] = field(default_factory=dict)

    def resolve(self, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """All hyperparameters (defaults included) after validating ``overrides``."""
        return self.space.resolve(self.name, overrides)

    def num_classes(self, hparams: Mapping[str, Any]) -> int:
        return int(hparams.get("num_classes", 10))


_REGISTRY: dict[str, Variant] = {}


def register(
    name: str,
    *,
    summary: str,
    source: str,
    hparams: Mapping[str, HParam],
    epochs: int,
    batch_size: int,
    optimizer_rates: Mapping[str, float] | None = None,
) -> Callable[[Builder], Builder]:
    """Decorator that registers a builder under ``name``."""

    def wrap(build: Builder) -> Builder:
        if name in _REGISTRY:
            raise RuntimeError(f"variant {name!r} registered twice")
        _REGISTRY[name] = Variant(name, summary, source, HParamSpace(dict(hparams)), build, epochs, batch_size,
                                  dict(optimizer_rates or {}))
        return build

    return wrap


def get_variant(name: str) -> Variant:
    """Look a variant up by name; an unknown one lists every valid name."""
    _load_builtin()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown variant '{name}'; valid: {', '.join(_REGISTRY)}") from None


def list_variants() -> list[Variant]:
    _load_builtin()
    return list(_REGISTRY.values())


class ParamCount(NamedTuple):
    """A configuration's size: trainable parameters (what the seeds' budgets count) and all of them."""

    trainable: int
    total: int


def build_model(name: str, hparams: Mapping[str, Any] | None = None, *, compile: bool = True,
                compile_options: Mapping[str, Any] | None = None, total_steps: int | None = None,
                normalization: PixelNormalization | None = None) -> keras.Model:
    """Build (and by default compile) variant ``name`` with validated hyperparameters.

    ``normalization`` puts the input preprocessing in front, so the model takes
    raw pixels; without it the network expects normalised inputs (parameter
    counting needs no more). ``total_steps`` is the run's planned number of
    optimizer steps, which a learning-rate schedule spans. ``compile_options``
    go to ``model.compile`` (``steps_per_execution``, ``jit_compile``): they
    change how fast it trains, not what it learns.
    """
    variant = get_variant(name)
    values = variant.resolve(hparams)
    model = variant.build(values)
    if normalization is not None:
        from .preprocessing import with_preprocessing  # Keras layers: only when a model is built

        model = with_preprocessing(model, normalization)
    if compile:
        compile_classifier(model, values, variant.optimizer_rates, total_steps, **(compile_options or {}))
    return model


def count_params(name: str, hparams: Mapping[str, Any] | None = None) -> int:
    """Trainable parameters of a configuration, from building it without training."""
    return param_count(name, hparams).trainable


def param_count(name: str, hparams: Mapping[str, Any] | None = None) -> ParamCount:
    """Trainable and total parameters of a configuration, from one build without training."""
    model = build_model(name, hparams, compile=False)
    return ParamCount(trainable_params(model), total_params(model))


_BUILTIN = ("seeds", "transfer", "parametric")  # listing order: the seeds first


def _load_builtin() -> None:
    # Importing the modules runs their @register decorators exactly once.
    for module in _BUILTIN:
        importlib.import_module(f".{module}", __package__)
