"""A user's model as the rest of cnn-search needs it: checked against the data, compiled for integer labels.

Every run feeds integer labels (scikeras's grid folds, ``fit``, the test
pass), so a builder that compiles with a categorical loss gets that loss
behind :class:`~search.zoo.losses.OneHotLabels`, which one-hot encodes the
labels in the graph: the builder's loss sees the one-hot labels it was
written for. A builder that compiles its own model keeps its optimizer, loss
and metrics (``accuracy`` is added when missing: leaderboards rank by it);
one that does not is compiled by the training recipe, as the zoo is.
"""

from __future__ import annotations

import math
import sys
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from .training_recipe import KERAS3_RATES, RECIPE_KEYS, TF1_KERAS_RATES

if TYPE_CHECKING:
    import keras

    from .registry import DataShape, Variant

#: Names of Keras's categorical cross-entropy, which expects one-hot labels.
_CATEGORICAL = ("categorical_crossentropy", "categoricalcrossentropy", "cce", "categorical_focal_crossentropy",
                "categoricalfocalcrossentropy")
_ACCURACY = ("accuracy", "acc", "sparse_categorical_accuracy", "categorical_accuracy")
_warned: set[tuple[str, str]] = set()
_kept: weakref.WeakSet[Any] = weakref.WeakSet()  # models compiled with their builder's own settings


def checked_user_model(reference: str, model: Any, shape: DataShape) -> keras.Model:
    """The builder's model, built for ``shape``; a model that cannot take the data is one line naming both."""
    import keras

    if not isinstance(model, keras.Model):
        raise ConfigError(f"builder '{reference}' returned {type(model).__name__}, not a keras.Model")
    if not model.built:
        model.build((None, *shape.input_shape))
    takes = tuple(model.inputs[0].shape[1:]) if getattr(model, "inputs", None) else None
    if takes is not None and tuple(takes) != tuple(shape.input_shape):
        raise ConfigError(f"builder '{reference}' makes a model for input shape {_shape(takes)} but the data's "
                          f"images are {_shape(shape.input_shape)}; take an input_shape parameter (cnn-search "
                          "passes the data's) or build for that shape")
    outputs = model.outputs[0].shape[-1] if getattr(model, "outputs", None) else None
    if outputs is not None and outputs != shape.num_classes:
        raise ConfigError(f"builder '{reference}' makes a model with {outputs} outputs but the data has "
                          f"{shape.num_classes} classes; take a num_classes parameter (cnn-search passes the "
                          "data's) or build for that count")
    return model


def compiled_by_builder(model: keras.Model) -> bool:
    return bool(getattr(model, "compiled", False)) and getattr(model, "optimizer", None) is not None


def refuse_recipe_overrides(variant: Variant, overrides: Mapping[str, Any]) -> None:
    """A builder that compiles its own model ignores the recipe: setting it (off its default) would change nothing."""
    if variant.builder is None:
        return
    recipe = set(RECIPE_KEYS) - set(variant.builder.params)
    defaults = variant.space.defaults()
    ignored = sorted(k for k, v in overrides.items() if k in recipe and v != defaults.get(k))
    if ignored:
        name = ignored[0]
        raise ConfigError(f"builder '{variant.name}' compiles its own model, so '{name}' would have no effect; "
                          "remove it, or return the model uncompiled to let cnn-search compile it")


def uncompiled(core: keras.Model) -> keras.Model:
    """The builder's network (same layers, same weights) as a fresh model without its compile state.

    Trained inside the preprocessing wrapper, the builder's own compiled model
    would carry compile metrics that never get built, which Keras before 3.6
    fails on when it reads the wrapper's metrics; its optimizer, loss and
    metrics are moved to the wrapper by :func:`compile_like` instead.
    """
    import keras

    if not getattr(core, "inputs", None):  # a subclassed model: it has no graph to rewire
        return core
    return keras.Model(core.inputs, core.outputs, name=core.name)


def compile_like(model: keras.Model, core: keras.Model, reference: str, **options: Any) -> keras.Model:
    """Compile ``model`` (``core`` behind its input preprocessing) with ``core``'s optimizer, loss and metrics."""
    _warn_renamed_default(reference, core.optimizer)
    loss = core.loss
    if _is_categorical(loss):
        from .losses import OneHotLabels

        loss = OneHotLabels(loss)
    model.compile(optimizer=core.optimizer, loss=loss, metrics=_metrics(core), **options)
    _kept.add(model)
    return model


def keeps_builder_compile(model: keras.Model) -> bool:
    """True for a model :func:`compile_like` compiled: its recipe is the builder's, not the hyperparameters'."""
    return model in _kept


def compiled_recipe(model: keras.Model) -> dict[str, Any]:
    """What a run records of a builder's own compile: the optimizer and the rate it had at the start."""
    import keras

    optimizer = model.optimizer
    rate = optimizer.learning_rate
    value = float(keras.ops.convert_to_numpy(rate)) if not callable(rate) else None
    return {"optimizer": type(optimizer).__name__.lower(), "learning_rate": value,
            "learning_rate_from": "your builder's compile", "loss": _loss_name(model.loss)}


def _metrics(core: keras.Model) -> list[Any]:
    config = core.get_compile_config() if hasattr(core, "get_compile_config") else None
    given = list((config or {}).get("metrics") or [])
    kept = [m for m in given if not (isinstance(m, str) and m.lower() in _ACCURACY)]
    return ["accuracy", *kept]


def _is_categorical(loss: Any) -> bool:
    return _loss_name(loss).replace("_", "") in {n.replace("_", "") for n in _CATEGORICAL}


def _loss_name(loss: Any) -> str:
    if isinstance(loss, str):
        return loss.lower()
    name = getattr(loss, "__name__", None) or type(loss).__name__
    return str(name).lower()


def say_once(reference: str, message: str) -> None:
    """Print a warning about a user's builder once per process (a search builds it many times)."""
    if (reference, message) in _warned:
        return
    _warned.add((reference, message))
    print(f"cnn-search: warning: builder '{reference}': {message}", file=sys.stderr, flush=True)


def _warn_renamed_default(reference: str, optimizer: Any) -> None:
    """Say once when a builder compiles an optimizer by name whose default rate Keras 3 changed."""
    name = type(optimizer).__name__.lower()
    then, now = TF1_KERAS_RATES.get(name), KERAS3_RATES.get(name)
    if then is None or now is None or then == now or (reference, name) in _warned:
        return
    try:
        rate = float(optimizer.learning_rate)
    except (TypeError, ValueError):
        return
    if not math.isclose(rate, now, rel_tol=1e-6):  # the variable is float32
        return
    _warned.add((reference, name))
    cls = type(optimizer).__name__
    print(f"cnn-search: warning: builder '{reference}' compiles {cls} at Keras 3's default rate {now:g}, but the "
          f"Keras of TensorFlow 1.x (which older reports, seed 001's among them, ran) used {then:g}: runs will not "
          f"match such a report (Adadelta at 0.001 barely learns in 20 epochs). To train as it did, compile "
          f"keras.optimizers.{cls}(learning_rate={then:g}), or return the model uncompiled and set learning_rate",
          file=sys.stderr, flush=True)


def _shape(shape: tuple[Any, ...]) -> str:
    return "x".join(str(d) for d in shape)
