"""How a variant is trained: optimizer, learning-rate schedule, weight decay and label smoothing.

These are hyperparameters like any other (searchable, recorded, carried by
``best.json``), declared once here for every variant. Two facts shape them:

* The Keras a seed ran is not Keras 3. Seed 001 compiled with the string
  ``'Adadelta'`` on TensorFlow 1.x's Keras, where that meant a rate of 1.0;
  Keras 3's ``Adadelta()`` uses 0.001 and barely moves in 20 epochs. A variant
  therefore names the default rates of the Keras its seed used
  (:data:`TF1_KERAS_RATES`), and ``learning_rate = none`` means *those*.
* A schedule has to know how many steps the run has. Hyperband stops most
  trials after a few epochs, but a trial's schedule still spans the epochs it
  was *planned* for, so a pruned trial was trained exactly as its full run
  would have started; the caller passes the trial's own total step count.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .hparams import OPTIMIZERS, Choice, Float, HParam

if TYPE_CHECKING:
    import keras

SCHEDULES = ("constant", "cosine", "warmup_cosine")

_CLASSES = {"adam": "Adam", "adamw": "AdamW", "nadam": "Nadam", "sgd": "SGD", "rmsprop": "RMSprop",
            "adagrad": "Adagrad", "adadelta": "Adadelta"}
assert set(_CLASSES) == set(OPTIMIZERS)

#: Default rates of optimizers named by string in TensorFlow 1.x's Keras (``keras.optimizers`` v1),
#: which seed 001 ran; Keras 3 uses 0.001 for all of these but SGD (0.01).
TF1_KERAS_RATES: Mapping[str, float] = {"sgd": 0.01, "rmsprop": 0.001, "adagrad": 0.01, "adadelta": 1.0,
                                        "adam": 0.001, "nadam": 0.002}
#: Keras 3's defaults (the same as TensorFlow 2.x's ``tf.keras``), for the record in metrics.
KERAS3_RATES: Mapping[str, float] = {"sgd": 0.01, "rmsprop": 0.001, "adagrad": 0.001, "adadelta": 0.001,
                                     "adam": 0.001, "adamw": 0.001, "nadam": 0.001}
#: Where a warm-up starts, as a fraction of the peak rate.
WARMUP_START = 0.04


def recipe_params(default_optimizer: str = "adam") -> dict[str, HParam]:
    """The training hyperparameters every variant declares; their defaults train as Keras would.

    None of them changes the weight count: the budget check never rebuilds a model for them.
    """
    return {
        "optimizer": Choice(OPTIMIZERS, default_optimizer, "training optimizer", changes_params=False),
        "learning_rate": Float(1e-6, 10.0, None, "peak learning rate; none = the default rate of the "
                               "Keras the variant's seed ran", optional=True, log=True, changes_params=False),
        "lr_schedule": Choice(SCHEDULES, "constant", "per-step schedule over the run's planned steps: "
                              "constant, cosine decay to 0, or linear warm-up then cosine decay",
                              changes_params=False),
        "warmup": Float(0.0, 0.5, 0.1, "warm-up fraction of the run's steps (warmup_cosine only)",
                        high_inclusive=True, changes_params=False, used_when={"lr_schedule": ("warmup_cosine",)}),
        "weight_decay": Float(0.0, 0.1, None, "decoupled weight decay; none = the optimizer's default "
                              "(0.004 for adamw, none for the others)", high_inclusive=True, optional=True,
                              changes_params=False),
        "label_smoothing": Float(0.0, 0.5, 0.0, "label smoothing of the cross-entropy loss",
                                 high_inclusive=True, changes_params=False),
    }


#: The names :func:`recipe_params` declares: what compiling a model reads of its hyperparameters.
RECIPE_KEYS = tuple(recipe_params())


def base_rate(hp: Mapping[str, Any], defaults: Mapping[str, float]) -> float:
    """The peak rate a run uses: the hyperparameter, else the variant's Keras default for the optimizer."""
    if hp.get("learning_rate") is not None:
        return float(hp["learning_rate"])
    name = hp["optimizer"]
    return float(defaults.get(name, KERAS3_RATES[name]))


def make_optimizer(hp: Mapping[str, Any], defaults: Mapping[str, float],
                   total_steps: int | None = None) -> keras.optimizers.Optimizer:
    """The optimizer of ``hp`` with its schedule spanning ``total_steps`` (needed unless constant)."""
    import keras  # here, not at the top: the recipe's declarations must not start a backend

    rate = learning_rate(hp, base_rate(hp, defaults), total_steps)
    kwargs: dict[str, Any] = {"learning_rate": rate}
    if hp.get("weight_decay") is not None:
        kwargs["weight_decay"] = float(hp["weight_decay"])
    return getattr(keras.optimizers, _CLASSES[hp["optimizer"]])(**kwargs)


def learning_rate(hp: Mapping[str, Any], peak: float, total_steps: int | None) -> Any:
    """A float for a constant rate, else a Keras schedule (saved with the model)."""
    schedule = hp.get("lr_schedule", "constant")
    if schedule == "constant":
        return peak
    if not total_steps or total_steps < 1:
        raise ValueError(f"lr_schedule {schedule!r} needs the run's total steps")
    import keras

    if schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(peak, decay_steps=total_steps)
    warmup = min(int(math.ceil(float(hp.get("warmup", 0.1)) * total_steps)), total_steps - 1)
    return keras.optimizers.schedules.CosineDecay(peak * WARMUP_START, decay_steps=max(total_steps - warmup, 1),
                                                  warmup_target=peak, warmup_steps=warmup)


def make_loss(hp: Mapping[str, Any]) -> Any:
    """Sparse cross-entropy (the seeds' one-hot cross-entropy on integer labels), optionally smoothed."""
    smoothing = float(hp.get("label_smoothing") or 0.0)
    if not smoothing:
        return "sparse_categorical_crossentropy"
    from .losses import SmoothedSparseCrossentropy

    return SmoothedSparseCrossentropy(smoothing)


def compile_classifier(model: keras.Model, hp: Mapping[str, Any], defaults: Mapping[str, float],
                       total_steps: int | None = None, **options: Any) -> keras.Model:
    """Compile with integer labels and accuracy; ``options`` are speed settings (XLA, steps per execution)."""
    model.compile(optimizer=make_optimizer(hp, defaults, total_steps), loss=make_loss(hp), metrics=["accuracy"],
                  **options)
    return model


def recipe_record(hp: Mapping[str, Any], defaults: Mapping[str, float]) -> dict[str, Any]:
    """What a run's metrics record of its training recipe: the rate actually used and where it came from."""
    return {"optimizer": hp["optimizer"], "learning_rate": base_rate(hp, defaults),
            "learning_rate_from": "hyperparameter" if hp.get("learning_rate") is not None
            else ("seed's Keras default" if hp["optimizer"] in defaults else "Keras 3 default"),
            "lr_schedule": hp.get("lr_schedule", "constant"), "weight_decay": hp.get("weight_decay"),
            "label_smoothing": hp.get("label_smoothing", 0.0)}
