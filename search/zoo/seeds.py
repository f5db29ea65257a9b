"""The CNNs of the seed reports, layer for layer.

Each builder reproduces what its report prints or describes (layer order,
filters, kernels, padding, pooling, dropout, batch norm, dense sizes,
activations) so that comparisons in cnn-search are comparisons of the
models people actually ran. Where a report leaves a detail out, the choice
made here is written in the variant's ``source``.
"""

from __future__ import annotations

from typing import Any

from .common import dropout_param, num_classes_param, optimizer_params
from .hparams import ACTIVATIONS, Choice, Float, Int
from .layers import Stack
from .registry import DataShape, register
from .training_recipe import TF1_KERAS_RATES

# --- seeds 000 and 002: the DataCamp tutorial network ----------------------------------------

_LEAKY = {"leaky_slope": Float(0.0, 1.0, 0.1, "LeakyReLU negative slope", changes_params=False)}
_DATACAMP_DROPOUT = (0.25, 0.25, 0.4, 0.3)


def _datacamp(name: str, hp: dict[str, Any], shape: DataShape, dropout: tuple[float, ...] | None) -> Any:
    from keras import layers  # here, not at the top: declaring variants must not start a backend

    stack = Stack(name, shape.input_shape)
    for i, filters in enumerate((32, 64, 128)):
        stack.extend([
            layers.Conv2D(filters, (3, 3), activation="linear", padding="same"),
            layers.LeakyReLU(negative_slope=hp["leaky_slope"]),
            layers.MaxPooling2D((2, 2), padding="same"),
        ])
        if dropout:
            stack.add(layers.Dropout(dropout[i]))
    stack.extend([layers.Flatten(), layers.Dense(128, activation="linear"),
                  layers.LeakyReLU(negative_slope=hp["leaky_slope"])])
    if dropout:
        stack.add(layers.Dropout(dropout[3]))
    return stack.add(layers.Dense(shape.num_classes, activation="softmax")).model()


@register("datacamp", summary="3 conv + LeakyReLU(0.1) + same-padded pooling, dense 128",
          source="seeds 000/002 (DataCamp tutorial), 356,234 params", hparams={**_LEAKY, **optimizer_params()},
          epochs=20, batch_size=64)
def datacamp(hp: dict[str, Any], shape: DataShape) -> Any:
    return _datacamp("datacamp", hp, shape, None)


@register("datacamp-dropout", summary="datacamp with dropout 0.25/0.25/0.4 after pools, 0.3 after dense",
          source="seeds 000/002 (DataCamp tutorial with dropout), 356,234 params",
          hparams={**_LEAKY, **optimizer_params()}, epochs=20, batch_size=64)
def datacamp_dropout(hp: dict[str, Any], shape: DataShape) -> Any:
    return _datacamp("datacamp-dropout", hp, shape, _DATACAMP_DROPOUT)


# --- seed 001: the grid-searched model under 50,000 parameters ------------------------------


@register("grid50k", summary="5 conv (28/32/32/36/36) + dense 36/32 with dropout, under 50k params",
          source="seed 001 create_model(); 47,582 params at kernel=3; optimizer names take the default "
                 "rates of TensorFlow 1.x's Keras, which the seed ran (Adadelta 1.0, Nadam 0.002)",
          hparams={
              "activation": Choice(ACTIVATIONS, "relu", "conv and dense activation"),
              "dropout_rate": dropout_param(0.2, "dropout after each hidden dense layer"),
              # The grid had one rate; the report's final model kept 0.2 after the first dense layer and
              # raised the second to 0.4 against over-fitting, so the second can be set on its own.
              "dropout_rate_2": Float(0.0, 1.0, None, "dropout after the second hidden dense layer; "
                                      "none = dropout_rate (the grid's single rate)", optional=True,
                                      changes_params=False),
              "kernel": Int(1, 9, 3, "kernel size of every conv but the first (7x7)"),
              **optimizer_params("nadam"),
          }, epochs=20, batch_size=32, optimizer_rates=TF1_KERAS_RATES)
def grid50k(hp: dict[str, Any], shape: DataShape) -> Any:
    from keras import layers

    act, k = hp["activation"], hp["kernel"]
    second = hp["dropout_rate"] if hp["dropout_rate_2"] is None else hp["dropout_rate_2"]

    def conv(filters: int, kernel: int = k) -> layers.Layer:
        return layers.Conv2D(filters, kernel, activation=act, padding="same")

    return Stack("grid50k", shape.input_shape).extend([
        conv(28, 7), layers.MaxPooling2D(pool_size=3),
        conv(32), conv(32), layers.MaxPooling2D(pool_size=2),
        conv(36), conv(36), layers.MaxPooling2D(pool_size=2),
        layers.Flatten(),
        layers.Dense(36, activation=act), layers.Dropout(hp["dropout_rate"]),
        layers.Dense(32, activation=act), layers.Dropout(second),
        layers.Dense(shape.num_classes, activation="softmax"),
    ]).model()


# --- seed 003: models 1A, 1B, 2, 3, 4 --------------------------------------------------------


def _seed003_block(stack: Stack, filters: int, convs: int, batch_norm: bool, dropout: float) -> None:
    from keras import layers

    for _ in range(convs):
        stack.add(layers.Conv2D(filters, (3, 3), activation="relu", padding="same"))
        if batch_norm:
            stack.add(layers.BatchNormalization())
    stack.add(layers.MaxPooling2D(pool_size=(2, 2)))
    if dropout:
        stack.add(layers.Dropout(dropout))


def _seed003(name: str, shape: DataShape, blocks: tuple[int, ...], convs: int, dense: tuple[int, ...],
             batch_norm: bool, dropout: float) -> Any:
    from keras import layers

    stack = Stack(name, shape.input_shape)
    for filters in blocks:
        _seed003_block(stack, filters, convs, batch_norm, dropout)
    stack.add(layers.Flatten())
    for units in dense:
        stack.add(layers.Dense(units, activation="relu"))
    return stack.add(layers.Dense(shape.num_classes, activation="softmax")).model()


_S3 = "seed 003 (Project 5), 25 epochs in the report"


@register("1A", summary="2 blocks of 2 conv (16, 32 filters), dense 1024", source=_S3,
          hparams=optimizer_params(), epochs=25, batch_size=32)
def model_1a(hp: dict[str, Any], shape: DataShape) -> Any:
    return _seed003("1A", shape, (16, 32), 2, (1024,), False, 0.0)


@register("1B", summary="1A with 64/128 filters", source=_S3, hparams=optimizer_params(), epochs=25, batch_size=32)
def model_1b(hp: dict[str, Any], shape: DataShape) -> Any:
    return _seed003("1B", shape, (64, 128), 2, (1024,), False, 0.0)


@register("2", summary="1B with Dropout(0.5) after each pooling", source=_S3,
          hparams={"dropout": dropout_param(0.5, "dropout after each pooling"), **optimizer_params()},
          epochs=25, batch_size=32)
def model_2(hp: dict[str, Any], shape: DataShape) -> Any:
    return _seed003("2", shape, (64, 128), 2, (1024,), False, hp["dropout"])


@register("3", summary="1B with BatchNormalization after every conv", source=_S3,
          hparams=optimizer_params(), epochs=25, batch_size=32)
def model_3(hp: dict[str, Any], shape: DataShape) -> Any:
    return _seed003("3", shape, (64, 128), 2, (1024,), True, 0.0)


@register("4", summary="3 blocks of 3 conv+BN (64/128/256), pool+dropout, dense 1024/512",
          source=_S3 + "; the report gives no dropout rate for model 4, 0.5 (model 2's) is assumed",
          hparams={"dropout": dropout_param(0.5, "dropout after each pooling"), **optimizer_params()},
          epochs=25, batch_size=32)
def model_4(hp: dict[str, Any], shape: DataShape) -> Any:
    return _seed003("4", shape, (64, 128, 256), 3, (1024, 512), True, hp["dropout"])


# --- seed 004: models 1, 3 and 4 (5 classes in the report) -----------------------------------

_S4 = "seed 004 (Q2 CNNs); the report trained on 5 classes"


@register("m1", summary="1 valid conv (32) + pool + dropout 0.2, dense 64", source=_S4,
          hparams={**num_classes_param(), **optimizer_params()}, epochs=50, batch_size=512)
def model_m1(hp: dict[str, Any], shape: DataShape) -> Any:
    from keras import layers

    return Stack("m1", shape.input_shape).extend([
        layers.Conv2D(32, (3, 3), activation="relu"), layers.MaxPooling2D((2, 2)), layers.Dropout(0.2),
        layers.Flatten(), layers.Dense(64, activation="relu"),
        layers.Dense(shape.num_classes, activation="softmax"),
    ]).model()


@register("m3", summary="3 valid conv (32/64/128) with pooling and dropout, dense 128", source=_S4,
          hparams={**num_classes_param(), **optimizer_params()}, epochs=50, batch_size=256)
def model_m3(hp: dict[str, Any], shape: DataShape) -> Any:
    from keras import layers

    return Stack("m3", shape.input_shape).extend([
        layers.Conv2D(32, (3, 3), activation="relu"), layers.MaxPooling2D((2, 2)), layers.Dropout(0.2),
        layers.Conv2D(64, (3, 3), activation="relu"), layers.MaxPooling2D((2, 2)), layers.Dropout(0.2),
        layers.Conv2D(128, (3, 3), activation="relu"), layers.Dropout(0.4),
        layers.Flatten(), layers.Dense(128, activation="relu"),
        layers.Dense(shape.num_classes, activation="softmax"),
    ]).model()


@register("m4", summary="4 same conv with BN (32/32/64/128), 2 pools, 5 dropouts, dense 512/128 with BN",
          source=_S4 + "; the report's best model", hparams={**num_classes_param(), **optimizer_params()},
          epochs=30, batch_size=256)
def model_m4(hp: dict[str, Any], shape: DataShape) -> Any:
    from keras import layers

    def conv(filters: int) -> list[layers.Layer]:
        return [layers.Conv2D(filters, (3, 3), padding="same", activation="relu"), layers.BatchNormalization()]

    return Stack("m4", shape.input_shape).extend([
        *conv(32), *conv(32), layers.MaxPooling2D(pool_size=(2, 2)), layers.Dropout(0.2),
        *conv(64), layers.Dropout(0.2),
        *conv(128), layers.MaxPooling2D(pool_size=(2, 2)), layers.Dropout(0.3),
        layers.Flatten(),
        layers.Dense(512, activation="relu"), layers.BatchNormalization(), layers.Dropout(0.4),
        layers.Dense(128, activation="relu"), layers.BatchNormalization(), layers.Dropout(0.4),
        layers.Dense(shape.num_classes, activation="softmax"),
    ]).model()
