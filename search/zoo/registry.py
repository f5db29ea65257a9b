"""The variant registry: names users type, mapped to declared builders.

A variant is data (name, provenance, hyperparameter declarations, training
defaults) plus one function that builds the network for the data's shape;
compiling, validation and parameter counting are done here once for all of
them. A user's builder, named by reference (``"models.py:create_model"``) or
passed as a callable, becomes a variant the first time it is asked for.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from ..errors import ConfigError
from .builders import (
    BuilderRef,
    absolute_reference,
    callable_reference,
    data_params,
    declarations,
    is_reference,
    load_builder,
)
from .compiled import (
    checked_user_model,
    compile_like,
    compiled_by_builder,
    refuse_recipe_overrides,
    say_once,
    uncompiled,
)
from .hparams import HParam, HParamSpace
from .layers import total_params, trainable_params
from .training_recipe import compile_classifier, recipe_params

if TYPE_CHECKING:
    import keras

    from ..data.normalization import PixelNormalization

class DataShape(NamedTuple):
    """What a network takes and outputs: one image's (height, width, channels) and the class count.

    The data decides both, so every builder gets them from the run's dataset.
    """

    input_shape: tuple[int, ...]
    num_classes: int


#: Fashion-MNIST's: what counts default to when no dataset is named.
FASHION_SHAPE = DataShape((28, 28, 1), 10)

Builder = Callable[[dict[str, Any], DataShape], "keras.Model"]


@dataclass(frozen=True)
class Variant:
    """A named model family; ``build`` gets the full, validated hyperparameters and the data's shape."""

    name: str
    summary: str
    source: str
    space: HParamSpace
    build: Builder
    epochs: int
    batch_size: int
    #: Default rates for optimizers given by name in the Keras the seed ran (empty: Keras 3's).
    optimizer_rates: Mapping[str, float] = field(default_factory=dict)
    #: Where a user's builder came from (None: a zoo variant).
    builder: BuilderRef | None = None

    def resolve(self, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """All hyperparameters (defaults included) after validating ``overrides``."""
        return self.space.resolve(self.name, overrides)

    def num_classes(self, hparams: Mapping[str, Any]) -> int | None:
        """The classes a zoo variant keeps (seed 004's ``num_classes``); None: every class of the data."""
        if self.builder is not None or "num_classes" not in self.space.params:
            return None
        kept = hparams.get("num_classes", self.space.params["num_classes"].default)
        return None if kept is None else int(kept)


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


def get_variant(name: str | Callable[..., Any]) -> Variant:
    """Look a variant up by name, builder reference (``"file.py:function"``) or Python callable.

    An unknown name lists every valid one.
    """
    _load_builtin()
    if callable(name):
        return _user_variant(callable_reference(name), name)
    if name in _REGISTRY:
        return _REGISTRY[name]
    if is_reference(name):
        key = absolute_reference(name, Path.cwd())
        if key not in _REGISTRY:
            builder, ref = load_builder(key)
            _user_variant(ref, builder)
        return _REGISTRY[key]
    zoo = ", ".join(v.name for v in list_variants())
    raise ConfigError(f"unknown variant '{name}'; valid: {zoo}, or your own builder as FILE.py:FUNCTION")


def variant_name(name: str | Callable[..., Any]) -> str:
    """The name a variant is recorded under: a callable's registered name, a reference made absolute."""
    return get_variant(name).name


def _user_variant(ref: BuilderRef, builder: Callable[..., Any]) -> Variant:
    """Register a user's builder; the training recipe stays searchable where the builder does not compile."""
    existing = _REGISTRY.get(ref.reference)
    if existing is not None and existing.builder is not None and existing.build.__wrapped__ is builder:
        return existing
    own = declarations(ref.reference, builder)
    ref = dataclasses.replace(ref, params=tuple(own))
    params = {**own, **{k: v for k, v in recipe_params().items() if k not in own}}
    doc = (inspect.getdoc(builder) or "").strip().splitlines()
    variant = Variant(ref.reference, doc[0] if doc else "your builder", f"your builder {ref.reference}",
                      HParamSpace(params), _calling(ref, builder, tuple(own)), epochs=10, batch_size=32,
                      builder=ref)
    _REGISTRY[ref.reference] = variant
    return variant


def _calling(ref: BuilderRef, builder: Callable[..., Any], own: tuple[str, ...]) -> Builder:
    """The zoo's ``build(hp, shape)`` around a user's keyword-argument builder."""
    supplied = data_params(builder)

    def build(hp: dict[str, Any], shape: DataShape) -> keras.Model:
        kwargs = {name: hp[name] for name in own}
        kwargs.update({k: v for k, v in (("input_shape", tuple(shape.input_shape)),
                                         ("num_classes", shape.num_classes)) if k in supplied})
        try:
            with warnings.catch_warnings(record=True) as caught:  # Keras's deprecation notes: once, not per build
                warnings.simplefilter("always")
                model = builder(**kwargs)
        except ConfigError:
            raise
        except Exception as exc:  # the configuration's failure, not ours: one line, no traceback
            text = (str(exc).strip().splitlines() or [""])[0]
            raise ConfigError(f"builder '{ref.reference}' raised {type(exc).__name__}: {text}") from None
        for warning in caught:
            say_once(ref.reference, str(warning.message).strip().splitlines()[0])
        return checked_user_model(ref.reference, model, shape)

    build.__wrapped__ = builder  # type: ignore[attr-defined]
    return build


def list_variants() -> list[Variant]:
    """The zoo's variants, in listing order (a user's builders, registered on use, are not the zoo's)."""
    _load_builtin()
    return [v for v in _REGISTRY.values() if v.builder is None]


class ParamCount(NamedTuple):
    """A configuration's size: trainable parameters (what the seeds' budgets count) and all of them."""

    trainable: int
    total: int


def build_model(name: str | Callable[..., Any], hparams: Mapping[str, Any] | None = None, *,
                shape: DataShape = FASHION_SHAPE, compile: bool = True,
                compile_options: Mapping[str, Any] | None = None, total_steps: int | None = None,
                normalization: PixelNormalization | None = None) -> keras.Model:
    """Build (and by default compile) variant ``name`` with validated hyperparameters for data of ``shape``.

    ``normalization`` puts the input preprocessing in front, so the model takes
    raw pixels; without it the network expects normalised inputs (parameter
    counting needs no more). ``total_steps`` is the run's planned number of
    optimizer steps, which a learning-rate schedule spans. ``compile_options``
    go to ``model.compile`` (``steps_per_execution``, ``jit_compile``): they
    change how fast it trains, not what it learns. A user's builder that
    compiles its model keeps its optimizer, loss and metrics.
    """
    variant = get_variant(name)
    values = variant.resolve(hparams)
    kept = variant.num_classes(values)
    core = variant.build(values, shape if kept is None else shape._replace(num_classes=kept))
    own = compiled_by_builder(core)
    if own:
        refuse_recipe_overrides(variant, hparams or {})
    model = uncompiled(core) if own else core
    if normalization is not None:
        from .preprocessing import with_preprocessing  # Keras layers: only when a model is built

        model = with_preprocessing(model, normalization)
    if compile and own:
        compile_like(model, core, variant.name, **(compile_options or {}))
    elif compile:
        compile_classifier(model, values, variant.optimizer_rates, total_steps, **(compile_options or {}))
    return model


def count_params(name: str, hparams: Mapping[str, Any] | None = None, shape: DataShape = FASHION_SHAPE) -> int:
    """Trainable parameters of a configuration, from building it without training."""
    return param_count(name, hparams, shape).trainable


def param_count(name: str, hparams: Mapping[str, Any] | None = None,
                shape: DataShape = FASHION_SHAPE) -> ParamCount:
    """Trainable and total parameters of a configuration, from one build without training."""
    model = build_model(name, hparams, shape=shape, compile=False)
    return ParamCount(trainable_params(model), total_params(model))


_BUILTIN = ("seeds", "transfer", "parametric")  # listing order: the seeds first


def _load_builtin() -> None:
    # Importing the modules runs their @register decorators exactly once.
    for module in _BUILTIN:
        importlib.import_module(f".{module}", __package__)
