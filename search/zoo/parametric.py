"""The parametric ``cnn`` builder that search spaces explore.

Hyperparameters are flat scalars (``filters_1`` .. ``filters_4`` rather than a
list) because samplers such as Optuna's TPE draw one value per name; blocks
beyond ``blocks`` simply ignore their filter count (a space can make them
conditional so they are not even sampled).

The choices follow what small image classifiers use: conv -> batch norm ->
activation (the conv then needs no bias), several convs per block, optionally
depthwise-separable, and a global-average-pooling head, which costs
``filters * classes`` parameters where flatten -> dense costs
``height * width * filters * units``. Augmentation layers sit first in the
network, so they act only during ``fit``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .common import dropout_param, optimizer_params
from .hparams import ACTIVATIONS, Bool, Choice, Float, HParam, Int
from .layers import Stack
from .registry import DataShape, register

if TYPE_CHECKING:
    import keras

MAX_BLOCKS = 4
_DEFAULT_FILTERS = (32, 64, 128, 128)

_FILTERS: dict[str, HParam] = {
    f"filters_{i + 1}": Int(1, 512, _DEFAULT_FILTERS[i], f"filters of each conv in block {i + 1}",
                            used_when={"blocks": tuple(range(i + 1, MAX_BLOCKS + 1))} if i else None)
    for i in range(MAX_BLOCKS)
}

_AUGMENT: dict[str, HParam] = {
    "augment_translate": Float(0.0, 0.3, 0.0, "random shift up to this fraction of the image, in training",
                               high_inclusive=True, changes_params=False),
    "augment_flip": Bool(False, "random horizontal flip in training", changes_params=False),
    "augment_cutout": Float(0.0, 0.6, 0.0, "erase a random square of this fraction of the side, in training",
                            high_inclusive=True, changes_params=False),
}


@register(
    "cnn",
    summary="parametric: blocks of conv(+BN)+pool(+dropout), flatten/dense or GAP head, any optimizer",
    source="cnn-search's search space; covers the seeds' design choices and small-network practice",
    hparams={
        "blocks": Int(1, MAX_BLOCKS, 2, "conv blocks, each ending in a pooling layer"),
        **_FILTERS,
        "convs_per_block": Int(1, 3, 1, "conv layers per block"),
        "separable": Bool(False, "depthwise-separable convs (all but the network's first conv)"),
        "kernel": Int(1, 9, 3, "conv kernel size"),
        "pool": Int(2, 4, 2, "max-pooling size (and stride)"),
        "padding": Choice(("same", "valid"), "same", "conv padding"),
        "activation": Choice(ACTIVATIONS, "relu", "conv and dense activation"),
        "batch_norm": Bool(False, "conv -> BatchNormalization -> activation (the conv without bias)"),
        "conv_dropout": dropout_param(0.0, "dropout after each pooling"),
        "head": Choice(("flatten", "gap"), "flatten", "flatten, or global average pooling (the last block "
                       "then does not pool: GAP pools its whole map)"),
        "dense_units": Int(0, 2048, 128, "hidden dense units; 0 = none"),
        "dense_dropout": dropout_param(0.0, "dropout before the output layer (after the hidden dense "
                                            "layer, if any)"),
        **_AUGMENT,
        **optimizer_params(),
    },
    epochs=10,
    batch_size=64,
)
def cnn(hp: dict[str, Any], shape: DataShape) -> keras.Model:
    from keras import layers  # here, not at the top: declaring variants must not start a backend

    from .augmentation import augmentation_layers

    stack = Stack("cnn", shape.input_shape).extend(augmentation_layers(hp["augment_translate"], hp["augment_flip"],
                                                    hp["augment_cutout"]))
    gap = hp["head"] == "gap"
    first = True
    for block in range(hp["blocks"]):
        for _ in range(hp["convs_per_block"]):
            stack.extend(_conv(hp, hp[f"filters_{block + 1}"], separable=hp["separable"] and not first))
            first = False
        if not (gap and block == hp["blocks"] - 1):
            stack.add(layers.MaxPooling2D(pool_size=hp["pool"]))
        if hp["conv_dropout"]:
            stack.add(layers.Dropout(hp["conv_dropout"]))
    stack.add(layers.GlobalAveragePooling2D() if gap else layers.Flatten())
    if hp["dense_units"]:
        stack.add(layers.Dense(hp["dense_units"], activation=hp["activation"]))
    if hp["dense_dropout"]:
        stack.add(layers.Dropout(hp["dense_dropout"]))
    return stack.add(layers.Dense(shape.num_classes, activation="softmax")).model()


#: Batch norm's moving-statistics momentum. Keras's 0.99 averages over ~100 steps, too slow for a
#: pruner that scores a trial after its first epoch: measured here, a 3-stage BN net trained 4 epochs
#: on 8,000 images validated at chance (0.10) with 0.99 and at 0.78 with 0.9 (PyTorch's default).
BN_MOMENTUM = 0.9


def _conv(hp: dict[str, Any], filters: int, separable: bool) -> list[keras.layers.Layer]:
    """One conv; with batch norm it is conv (no bias: BN's shift replaces it) -> BN -> activation."""
    from keras import layers

    kind = layers.SeparableConv2D if separable else layers.Conv2D
    if not hp["batch_norm"]:
        return [kind(filters, hp["kernel"], activation=hp["activation"], padding=hp["padding"])]
    return [kind(filters, hp["kernel"], padding=hp["padding"], use_bias=False),
            layers.BatchNormalization(momentum=BN_MOMENTUM), layers.Activation(hp["activation"])]
