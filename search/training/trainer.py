"""One train-and-evaluate path whose numbers every other feature trusts.

``cnn-search train``, each search trial and the final run from a best-params
file all go through :func:`train`, so a number in a leaderboard means the
same thing as the number in a standalone run.
"""

from __future__ import annotations

import datetime as dt
import gc
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd

from ..compat import tf_gradient_registry
from ..data import DataOptions, Dataset, PixelNormalization, fit_normalization, load_dataset
from ..errors import ConfigError
from ..runtime import package_versions, run_environment, seed_everything
from ..zoo import DataShape, build_model, get_variant, recipe_record, total_params, trainable_params, variant_name
from ..zoo.compiled import compiled_recipe, keeps_builder_compile
from .evaluation import confusion_frame
from .interruption import InterruptCheck
from .options import kept_epoch, precision
from .placement import on_device
from .progress import EpochPrinter, EpochTimer
from .settings import FitOptions

EVAL_BATCH = 2048  # inference holds no gradients, so a large batch is cheap and fast


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a run; recorded verbatim in ``metrics.json``."""

    variant: str  # a zoo name or a builder reference ("models.py:create_model"); a callable is registered
    hparams: Mapping[str, Any] = field(default_factory=dict)
    epochs: int | None = None
    batch_size: int | None = None
    seed: int = 0  # weights, dropout, batch order: the run's randomness, not which images it sees
    # The train/validation split (and subset) seed; None keeps ``data.seed`` (0 unless set), so that runs with
    # different seeds are scored on the same validation images unless a different split is asked for.
    split_seed: int | None = None
    data: DataOptions = field(default_factory=DataOptions)
    full_train: bool = False  # final runs: fit on train + validation, no per-epoch validation
    fit: FitOptions = field(default_factory=FitOptions)  # speed settings (compile, precision, early stop)
    evaluate_test: bool = True  # False: no test pass and no test figures (a search that must not see them)

    def __post_init__(self) -> None:
        if callable(self.variant):  # the Python API's own builder: recorded under the name it registers as
            object.__setattr__(self, "variant", variant_name(self.variant))
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")


@dataclass
class TrainResult:
    """The trained model (it takes raw pixels) with its history, test predictions and metrics.

    ``y_pred`` is None when the run did not evaluate the test set.
    """

    model: keras.Model
    history: pd.DataFrame
    metrics: dict[str, Any]
    y_pred: np.ndarray | None
    dataset: Dataset


def resolve(config: TrainConfig) -> tuple[dict[str, Any], int, int, DataOptions]:
    """Validated hyperparameters, epochs, batch size and data options of ``config``.

    The data keeps only the classes the model outputs (seed 004's 5-class
    models), which is why the variant decides ``num_classes``. The split
    follows ``split_seed``, never ``seed``: changing the training seed used to
    change the validation images too, so two seeds' scores were not comparable.
    """
    variant = get_variant(config.variant)
    hparams = variant.resolve(config.hparams)
    split = config.data.seed if config.split_seed is None else config.split_seed
    data = config.data.replace(num_classes=variant.num_classes(hparams), seed=split)
    return hparams, config.epochs or variant.epochs, config.batch_size or variant.batch_size, data


def train(
    config: TrainConfig,
    *,
    data_dir: str | Path | None = None,
    dataset: Dataset | None = None,
    verbose: bool = True,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    data_on_device: bool = False,
) -> TrainResult:
    """Train ``config`` on the training split, validate per epoch, evaluate on the test set.

    Pass ``dataset`` to reuse arrays already in memory (searches load once per
    process); otherwise the data is loaded with ``config.data``. The input
    normalisation is the dataset's own (``dataset.options.normalize``, what the
    space asked for), not ``config.data``'s: a caller that passes a dataset with a
    default config still gets the dataset's (reading the config once trained
    every Optuna trial of a "standardize" space on x / 255). It is fitted on the images the model trains
    on (the training split, or train + validation for ``full_train``) and built
    into the model.
    With early stopping, every reported figure comes from the restored epoch.
    The training arrays go to the GPU once where the backend allows
    (:mod:`.placement`; ``data_on_device`` forces it, also on a CPU, for tests).
    """
    hparams, epochs, batch_size, options = resolve(config)
    if dataset is None:
        dataset = load_dataset(options, data_dir=data_dir)
    x, y, validation = _fit_data(dataset, config.full_train)
    normalization = fit_normalization(dataset.options.normalize, x, "train+val" if config.full_train else "train")
    seed_everything(config.seed, deterministic=config.fit.deterministic)
    with precision(config.fit.precision):
        model = build_model(config.variant, hparams, shape=dataset_shape(dataset),
                            compile_options=config.fit.compile_kwargs(),
                            total_steps=epochs * math.ceil(len(y) / batch_size), normalization=normalization)
    timer = EpochTimer()
    stopping = config.fit.callbacks(validating=validation is not None)
    fit_callbacks = [timer, InterruptCheck(), *callbacks, *stopping]
    fit_callbacks += [EpochPrinter(epochs, timer)] if verbose else []
    fed, on_gpu = on_device((x, y, *(validation or ())), force=data_on_device)
    try:
        fit = model.fit(fed[0], fed[1], validation_data=fed[2:] or None, epochs=epochs, batch_size=batch_size,
                        verbose=0, callbacks=fit_callbacks, validation_batch_size=EVAL_BATCH)
    except Exception as exc:  # pruned, diverged, failed: say how much training it took first
        exc.image_epochs = len(timer.times) * len(y)
        raise
    history = history_frame(fit.history)
    kept = kept_epoch(stopping, len(history))
    y_pred, test = _evaluate_test(model, dataset) if config.evaluate_test else (None, None)
    variant = get_variant(config.variant)
    metrics = {
        "variant": config.variant,
        "hparams": hparams,
        "params": trainable_params(model),
        "total_params": _core_total_params(model),
        "recipe": compiled_recipe(model) if keeps_builder_compile(model)
        else recipe_record(hparams, variant.optimizer_rates),
        **({"builder": variant.builder.record()} if variant.builder is not None else {}),
        "epochs": epochs,
        "epochs_run": len(history),
        "kept_epoch": kept,
        "batch_size": batch_size,
        "seed": config.seed,
        "split_seed": dataset.options.seed,
        "full_train": config.full_train,
        "fit_options": config.fit.record(),
        "deterministic_ops": config.fit.deterministic,
        "data": _data_record(dataset, config.full_train, normalization),
        **_split_metrics(history, kept, test),
        "test_confusion_matrix": None if y_pred is None else
        confusion_frame(dataset.y_test, y_pred, dataset.class_names).to_numpy().tolist(),
        "training_time_s": training_time(history),
        "time_per_epoch_s": training_time(history) / max(len(history), 1),
        "image_epochs": len(history) * len(y),
        "data_on_device": on_gpu,
        "versions": package_versions(),
        **run_environment(),
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    return TrainResult(model, history, metrics, y_pred, dataset)


def dataset_shape(dataset: Dataset) -> DataShape:
    """What a model for ``dataset`` takes and outputs."""
    return DataShape(dataset.input_shape, dataset.num_classes)


def _evaluate_test(model: keras.Model, dataset: Dataset) -> tuple[np.ndarray, dict[str, float]]:
    """Test predictions, loss and accuracy from one ``predict`` pass over the raw test images."""
    # float32 whatever the precision policy: numpy has no bfloat16 arithmetic
    probabilities = np.asarray(model.predict(dataset.x_test, batch_size=EVAL_BATCH, verbose=0), dtype=np.float32)
    loss, accuracy = test_scores(dataset.y_test, probabilities, model.loss)
    return np.argmax(probabilities, axis=1), {"loss": loss, "accuracy": accuracy}


def training_time(history: pd.DataFrame) -> float:
    """Seconds from the start of ``fit`` to the end of its last epoch (the same in both engines)."""
    return float(history["elapsed_s"].iloc[-1]) if len(history) else 0.0


def test_scores(y_true: np.ndarray, probabilities: np.ndarray,
                loss: Any = "sparse_categorical_crossentropy") -> tuple[float, float]:
    """Loss and accuracy from the predicted probabilities, ``loss`` being the model's compiled loss.

    This is what ``model.evaluate`` computes (the compiled loss, label
    smoothing included, averaged over images, as Keras reports ``val_loss``),
    without a second pass over the test set and a second traced function:
    ``predict`` is needed anyway for the confusion matrix, and skipping
    ``evaluate`` saves about a sixth of a small trial's time on CPU.
    """
    loss = keras.losses.get(loss)(y_true, probabilities)
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
    registry = tf_gradient_registry() if keras.backend.backend() == "tensorflow" else None
    if registry is None:
        return
    for name in [n for n in registry if n.startswith("CustomGradient-") and n not in _GRADIENTS_AT_IMPORT]:
        del registry[name]


def _registered_gradients() -> frozenset[str]:
    registry = tf_gradient_registry() if keras.backend.backend() == "tensorflow" else None
    return frozenset(registry or ())


_GRADIENTS_AT_IMPORT = _registered_gradients()


def _fit_data(dataset: Dataset, full_train: bool) -> tuple[np.ndarray, np.ndarray, Any]:
    if full_train:
        return dataset.x_trainval, dataset.y_trainval, None
    return dataset.x_train, dataset.y_train, (dataset.x_val, dataset.y_val)


def history_frame(history: Mapping[str, list[float]]) -> pd.DataFrame:
    """Keras's per-epoch history as a table with a 1-based ``epoch`` column first."""
    frame = pd.DataFrame({key: [float(v) for v in values] for key, values in history.items()})
    frame.insert(0, "epoch", np.arange(1, len(frame) + 1))
    return frame


def _split_metrics(history: pd.DataFrame, kept: int, test: dict[str, float] | None) -> dict[str, Any]:
    """Training and validation figures of the kept epoch (1-based), and the test figures."""
    row = history.iloc[kept - 1]
    val = {"loss": float(row["val_loss"]), "accuracy": float(row["val_accuracy"])} if "val_loss" in row else None
    return {"train": {"loss": float(row["loss"]), "accuracy": float(row["accuracy"])}, "val": val, "test": test}


def _core_total_params(model: keras.Model) -> int:
    """All parameters of the network itself, without the input normalisation's constants."""
    return sum(total_params(layer) for layer in model.layers if isinstance(layer, keras.Model)) or total_params(model)


def _data_record(dataset: Dataset, full_train: bool, normalization: PixelNormalization) -> dict[str, Any]:
    return {
        **dataset.options.record(),
        "source": dataset.source.get("source", dataset.options.source),  # "arrays" for in-memory images
        "input_shape": list(dataset.input_shape),
        "class_names": list(dataset.class_names),
        "source_info": dict(dataset.source),
        "normalization": normalization.record(),
        "n_train": len(dataset.y_trainval) if full_train else len(dataset.y_train),
        "n_val": 0 if full_train else len(dataset.y_val),
        "n_test": len(dataset.y_test),
    }
