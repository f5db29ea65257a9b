"""The model's own input preprocessing: raw 0-255 pixels in, the network's inputs out.

Normalising inside the model, with statistics fitted on the run's training
images, keeps validation folds and the test set out of those statistics and
makes a saved model usable on raw images without the training code.
"""

from __future__ import annotations

import keras
from keras import layers

from ..data.normalization import PIXEL_MAX, PixelNormalization


def input_layers(normalization: PixelNormalization) -> list[keras.layers.Layer]:
    """``Rescaling(1/255)`` or a per-pixel ``Normalization`` with the fitted (not adapted) statistics."""
    if normalization.method == "scale":
        return [layers.Rescaling(1.0 / PIXEL_MAX, name="scale")]
    assert normalization.mean is not None and normalization.std is not None
    return [layers.Normalization(axis=(1, 2, 3), mean=normalization.mean, variance=normalization.std**2,
                                 name="standardize")]


def with_preprocessing(core: keras.Model, normalization: PixelNormalization) -> keras.Model:
    """``core`` behind its input preprocessing, as one model that takes raw pixels.

    The preprocessing has no trainable weights, so parameter budgets (counted
    on ``core``) are unchanged.
    """
    inputs = keras.Input(shape=core.input_shape[1:], name="pixels")
    x = inputs
    for layer in input_layers(normalization):
        x = layer(x)
    return keras.Model(inputs, core(x), name=core.name)
