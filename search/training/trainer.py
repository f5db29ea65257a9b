"""One train-and-evaluate path whose numbers every other feature trusts.

``cnn-search train``, each search trial and the final run from a best-params
file all go through :func:`train`, so a number in a leaderboard means the
same thing as the number in a standalone run.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd

from ..data import DataOptions, Dataset, load_dataset
from ..errors import ConfigError
from ..runtime import device_description, package_versions, seed_everything
from ..zoo import build_model, get_variant, trainable_params
from .evaluation import confusion_frame
from .interruption import InterruptCheck
from .options import FitOptions, precision
from .progress import EpochPrinter, EpochTimer

EVAL_BATCH = 2048  # inference holds no gradients, so a large batch is cheap and fast


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a run; recorded verbatim in ``metrics.json``."""

    variant: str
    hparams: Mapping[str, Any] = field(default_factory=dict)
    epochs: int | None = None
    batch_size: int | None = None
    seed: int = 0
    data: DataOptions = field(default_factory=DataOptions)
    full_train: bool = False  # final runs: fit on train + validation, no per-epoch validation
    fit: FitOptions = field(default_factory=FitOptions)  # speed settings (compile, precision, early stop)

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")


@dataclass
class TrainResult:
    """The trained model with its history, test predictions and metrics."""

    model: keras.Model
    history: pd.DataFrame
    metrics: dict[str, Any]
    y_pred: np.ndarray
    dataset: Dataset


def resolve(config: TrainConfig) -> tuple[dict[str, Any], int, int, DataOptions]:
    """Validated hyperparameters, epochs, batch size and data options of ``config``.

    The data keeps only the classes the model outputs (seed 004's 5-class
    models), which is why the variant decides ``num_classes``.
    """
    variant = get_variant(config.variant)
    hparams = variant.resolve(config.hparams)
    data = dataclasses.replace(config.data, num_classes=variant.num_classes(hparams), seed=config.seed)
    return hparams, config.epochs or variant.epochs, config.batch_size or variant.batch_size, data


def train(
    config: TrainConfig,
    *,
    data_dir: str | Path | None = None,
    dataset: Dataset | None = None,
    verbose: bool = True,
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> TrainResult:
    """Train ``config`` on the training split, validate per epoch, evaluate on the test set.

    Pass ``dataset`` to reuse arrays already in memory (searches load once per
    process); otherwise the data is loaded with ``config.data``.
    """
    hparams, epochs, batch_size, options = resolve(config)
    if dataset is None:
        dataset = load_dataset(options, data_dir=data_dir)
    seed_everything(config.seed, deterministic=config.fit.deterministic)
    with precision(config.fit.precision):
        model = build_model(config.variant, hparams, compile_options=config.fit.compile_kwargs())
    timer = EpochTimer()
    x, y, validation = _fit_data(dataset, config.full_train)
    fit_callbacks = [timer, InterruptCheck(), *callbacks, *config.fit.callbacks(validating=validation is not None)]
    fit_callbacks += [EpochPrinter(epochs, timer)] if verbose else []
    start = time.perf_counter()
    fit = model.fit(x, y, validation_data=validation, epochs=epochs, batch_size=batch_size, verbose=0,
                    callbacks=fit_callbacks, validation_batch_size=EVAL_BATCH)
    train_time = time.perf_counter() - start
    history = _history_frame(fit.history, timer.times)
    # float32 whatever the precision policy: numpy has no bfloat16 arithmetic
    probabilities = np.asarray(model.predict(dataset.x_test, batch_size=EVAL_BATCH, verbose=0), dtype=np.float32)
    test_loss, test_acc = test_scores(dataset.y_test, probabilities)
    y_pred = np.argmax(probabilities, axis=1)
    metrics = {
        "variant": config.variant,
        "hparams": hparams,
        "params": trainable_params(model),
        "epochs": epochs,
        "epochs_run": len(history),
        "batch_size": batch_size,
        "seed": config.seed,
        "full_train": config.full_train,
        "fit_options": config.fit.record(),
        "deterministic_ops": config.fit.deterministic,
        "data": _data_record(dataset, config.full_train),
        **_split_metrics(history, float(test_loss), float(test_acc)),
        "test_confusion_matrix": confusion_frame(dataset.y_test, y_pred, dataset.class_names).to_numpy().tolist(),
        "training_time_s": train_time,
        "time_per_epoch_s": train_time / max(len(history), 1),
        "versions": package_versions(),
        "device": device_description(),
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    return TrainResult(model, history, metrics, y_pred, dataset)


def test_scores(y_true: np.ndarray, probabilities: np.ndarray) -> tuple[float, float]:
    """Test loss and accuracy from the predicted probabilities.

    This is what ``model.evaluate`` computes (the compiled sparse
    cross-entropy, averaged over images), without a second pass over the test
    set and a second traced function: ``predict`` is needed anyway for the
    confusion matrix, and skipping ``evaluate`` saves about a sixth of a small
    trial's time on CPU.
    """
    loss = keras.losses.sparse_categorical_crossentropy(y_true, probabilities)
    accuracy = np.mean(np.argmax(probabilities, axis=1) == y_true)
    return float(keras.ops.convert_to_numpy(keras.ops.mean(loss))), float(accuracy)


def release_memory() -> None:
    """Drop Keras's global state between trials so memory does not grow with them.

    ``clear_session`` alone is not enough on TensorFlow: every traced train
    step registers a custom gradient (Keras's optimizer all-reduces the
    gradients through ``tf.distribute``, which wraps them in
    ``tf.custom_gradient``) in TensorFlow's process-wide gradient registry,
    and that entry keeps the whole traced graph alive. Measured here: +8 MiB
    of RSS per trial without dropping them, flat after a few trials with.
    """
    keras.backend.clear_session(free_memory=False)  # one collection below, after the registry is pruned
    _drop_custom_gradients()
    gc.collect()


def _drop_custom_gradients() -> None:
    """Forget the custom gradients registered since this module was imported (their graphs are gone)."""
    if keras.backend.backend() != "tensorflow":
        return
    try:
        from tensorflow.python.framework import ops
    except ImportError:
        return
    registry = getattr(getattr(ops, "_gradient_registry", None), "_registry", None)
    if not isinstance(registry, dict):
        return
    for name in [n for n in registry if n.startswith("CustomGradient-") and n not in _GRADIENTS_AT_IMPORT]:
        del registry[name]


def _registered_gradients() -> frozenset[str]:
    if keras.backend.backend() != "tensorflow":
        return frozenset()
    from tensorflow.python.framework import ops

    return frozenset(getattr(getattr(ops, "_gradient_registry", None), "_registry", None) or ())


_GRADIENTS_AT_IMPORT = _registered_gradients()


def _fit_data(dataset: Dataset, full_train: bool) -> tuple[np.ndarray, np.ndarray, Any]:
    if full_train:
        return dataset.x_trainval, dataset.y_trainval, None
    return dataset.x_train, dataset.y_train, (dataset.x_val, dataset.y_val)


def _history_frame(history: Mapping[str, list[float]], epoch_times: list[float]) -> pd.DataFrame:
    frame = pd.DataFrame({key: [float(v) for v in values] for key, values in history.items()})
    frame.insert(0, "epoch", np.arange(1, len(frame) + 1))
    frame["epoch_time_s"] = epoch_times[: len(frame)]
    return frame


def _split_metrics(history: pd.DataFrame, test_loss: float, test_acc: float) -> dict[str, Any]:
    last = history.iloc[-1]
    val = {"loss": float(last["val_loss"]), "accuracy": float(last["val_accuracy"])} if "val_loss" in last else None
    return {
        "train": {"loss": float(last["loss"]), "accuracy": float(last["accuracy"])},
        "val": val,
        "test": {"loss": test_loss, "accuracy": test_acc},
    }


def _data_record(dataset: Dataset, full_train: bool) -> dict[str, Any]:
    return {
        **dataclasses.asdict(dataset.options),
        "normalization": dataset.normalization,
        "n_train": len(dataset.y_trainval) if full_train else len(dataset.y_train),
        "n_val": 0 if full_train else len(dataset.y_val),
        "n_test": len(dataset.y_test),
    }
