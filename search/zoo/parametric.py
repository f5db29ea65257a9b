"""The parametric ``cnn`` builder that search spaces explore.

Hyperparameters are flat scalars (``filters_1`` .. ``filters_4`` rather than a
list) because samplers such as Optuna's TPE draw one value per name; blocks
beyond ``blocks`` simply ignore their filter count.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import layers

from .common import dropout_param, optimizer_params
from .hparams import ACTIVATIONS, Bool, Choice, HParam, Int
from .layers import Stack
from .registry import register

MAX_BLOCKS = 4
_DEFAULT_FILTERS = (32, 64, 128, 128)

_FILTERS: dict[str, HParam] = {
    f"filters_{i + 1}": Int(1, 512, _DEFAULT_FILTERS[i], f"filters of each conv in block {i + 1}")
    for i in range(MAX_BLOCKS)
}


@register(
    "cnn",
    summary="parametric: blocks of conv(+BN)+pool(+dropout), optional hidden dense, any optimizer",
    source="cnn-search's search space; covers the seeds' design choices",
    hparams={
        "blocks": Int(1, MAX_BLOCKS, 2, "conv blocks, each ending in a pooling layer"),
        **_FILTERS,
        "convs_per_block": Int(1, 3, 1, "conv layers per block"),
        "kernel": Int(1, 9, 3, "conv kernel size"),
        "pool": Int(2, 4, 2, "max-pooling size (and stride)"),
        "padding": Choice(("same", "valid"), "same", "conv padding"),
        "activation": Choice(ACTIVATIONS, "relu", "conv and dense activation"),
        "batch_norm": Bool(False, "BatchNormalization after every conv"),
        "conv_dropout": dropout_param(0.0, "dropout after each pooling"),
        "dense_units": Int(0, 2048, 128, "hidden dense units; 0 = none"),
        "dense_dropout": dropout_param(0.0, "dropout after the hidden dense layer"),
        **optimizer_params(),
    },
    epochs=10,
    batch_size=64,
)
def cnn(hp: dict[str, Any]) -> keras.Model:
    stack = Stack("cnn")
    for block in range(hp["blocks"]):
        for _ in range(hp["convs_per_block"]):
            stack.add(layers.Conv2D(hp[f"filters_{block + 1}"], hp["kernel"],
                                    activation=hp["activation"], padding=hp["padding"]))
            if hp["batch_norm"]:
                stack.add(layers.BatchNormalization())
        stack.add(layers.MaxPooling2D(pool_size=hp["pool"]))
        if hp["conv_dropout"]:
            stack.add(layers.Dropout(hp["conv_dropout"]))
    stack.add(layers.Flatten())
    if hp["dense_units"]:
        stack.add(layers.Dense(hp["dense_units"], activation=hp["activation"]))
        if hp["dense_dropout"]:
            stack.add(layers.Dropout(hp["dense_dropout"]))
    return stack.add(layers.Dense(10, activation="softmax")).model()
