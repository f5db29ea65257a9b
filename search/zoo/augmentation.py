"""Data augmentation as layers of the model: active in ``fit``, the identity at inference.

Inside the model, augmentation costs no host-side pipeline, runs on the
accelerator with the rest of the step, and can never touch the validation or
test images (Keras calls these layers with ``training=False`` there).
"""

from __future__ import annotations

from typing import Any

import keras
from keras import layers


def augmentation_layers(translate: float, flip: bool, cutout: float) -> list[keras.layers.Layer]:
    """The layers for the ``augment_*`` hyperparameters, in the order they apply (none when all are off)."""
    out: list[keras.layers.Layer] = []
    if translate:
        out.append(layers.RandomTranslation(translate, translate, fill_mode="constant", fill_value=0.0,
                                            name="augment_translate"))
    if flip:
        out.append(layers.RandomFlip("horizontal", name="augment_flip"))
    if cutout:
        out.append(RandomCutout(cutout, name="augment_cutout"))
    return out


@keras.saving.register_keras_serializable(package="cnn_search")
class RandomCutout(keras.layers.Layer):
    """Zeroes one random square per image in training (DeVries & Taylor's cutout).

    ``size`` is the square's side as a fraction of the image side; the square's
    centre is uniform over the image, so near the border less is erased, as
    in the paper. Written with ``keras.ops`` so it runs on every backend and
    Keras version this project supports.
    """

    def __init__(self, size: float, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.size = float(size)
        self.seed = seed
        self.generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        if not training:
            return inputs
        ops = keras.ops
        shape = ops.shape(inputs)
        batch, height, width = shape[0], shape[1], shape[2]
        centre = keras.random.uniform((batch, 2), seed=self.generator)
        rows = ops.cast(ops.arange(height), "float32")[None, :, None] / ops.cast(height, "float32")
        cols = ops.cast(ops.arange(width), "float32")[None, None, :] / ops.cast(width, "float32")
        half = self.size / 2.0
        inside = ops.logical_and(ops.abs(rows - centre[:, 0, None, None]) < half,
                                 ops.abs(cols - centre[:, 1, None, None]) < half)
        keep = ops.cast(ops.logical_not(inside), inputs.dtype)[..., None]
        return inputs * keep

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "size": self.size, "seed": self.seed}
