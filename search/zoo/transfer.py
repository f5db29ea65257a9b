"""Seed 004's ResNet50 transfer-learning model.

There is no network on the machines this runs on, so ImageNet weights come from
a file the user names (Keras's ``resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5``);
``weights`` none builds the same architecture with random weights, which is
what parameter counting and the tests use.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from .common import dropout_param, num_classes_param, optimizer_params
from .hparams import Int
from .hparams import Path as PathParam
from .registry import DataShape, register

if TYPE_CHECKING:
    import keras


@register(
    "resnet50",
    summary="padded to >= 32x32, grayscale as RGB, frozen ResNet50 base (BN trainable), GAP + dense 256 head",
    source="seed 004 (transfer learning; ImageNet weights from a local file)",
    hparams={
        "weights": PathParam(None, "local ResNet50 no-top weights file (.h5); none = random init"),
        "dense_units": Int(1, 4096, 256, "units of the head's dense layer"),
        "dropout": dropout_param(0.3, "dropout in the head"),
        **num_classes_param(),
        **optimizer_params(),
    },
    epochs=5,
    batch_size=256,
)
def resnet50(hp: dict[str, Any], shape: DataShape) -> keras.Model:
    import keras  # here, not at the top: declaring variants must not start a backend
    from keras import layers

    weights = _weights_file(hp["weights"])
    inputs = keras.Input(shape=shape.input_shape, name="image")
    height, width, channels = shape.input_shape
    # ResNet50 takes at least 32x32 RGB: smaller images are zero-padded, grayscale is repeated 3 times.
    pad_h, pad_w = max(0, 32 - height), max(0, 32 - width)
    x = layers.ZeroPadding2D(((pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2)))(inputs) \
        if pad_h or pad_w else inputs
    rgb = layers.Concatenate(axis=-1)([x, x, x]) if channels == 1 else x
    base = keras.applications.ResNet50(include_top=False, weights=weights,
                                       input_shape=(height + pad_h, width + pad_w, 3))
    # The seed froze the base but left its BatchNormalization layers trainable.
    for layer in base.layers:
        layer.trainable = isinstance(layer, layers.BatchNormalization)
    x = base(rgb)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(hp["dense_units"], activation="relu")(x)
    x = layers.Dropout(hp["dropout"])(x)
    x = layers.BatchNormalization()(x)
    outputs = layers.Dense(shape.num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="resnet50")


def _weights_file(path: str | None) -> str | None:
    if path is None:
        return None
    if not Path(path).is_file():
        raise ConfigError(
            f"hyperparameter 'weights': file '{path}' not found; name a local ResNet50 no-top "
            "ImageNet weights file (.h5), or use weights=none"
        )
    return path
