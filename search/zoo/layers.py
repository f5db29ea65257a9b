"""A shape-checked layer stack shared by every variant, and parameter counts.

Keras reports a collapsed feature map (pooling a 1x1 map, a kernel larger than
its input) as a backend traceback deep in graph construction, or not at all
until ``fit``. Checking each layer's output shape as it is added turns that
into one sentence naming the layer and the map size.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError

if TYPE_CHECKING:
    import keras


class Stack:
    """A functional-API chain that refuses layers whose output would be empty."""

    def __init__(self, variant: str, input_shape: tuple[int, ...]) -> None:
        import keras  # here, not at the top: the zoo's declarations must not start a backend

        self.variant = variant
        self.inputs = keras.Input(shape=input_shape, name="image")
        self.x = self.inputs

    def add(self, layer: keras.layers.Layer) -> Stack:
        shape = tuple(self.x.shape)
        try:
            out = layer.compute_output_shape(shape)
            collapsed = any(d is not None and d <= 0 for d in out[1:])
        except ValueError:
            collapsed = True
        if collapsed:
            raise ConfigError(self._collapse_message(layer, shape))
        self.x = layer(self.x)
        return self

    def extend(self, layers: list[keras.layers.Layer]) -> Stack:
        for layer in layers:
            self.add(layer)
        return self

    def model(self) -> keras.Model:
        import keras

        return keras.Model(self.inputs, self.x, name=self.variant)

    def _collapse_message(self, layer: keras.layers.Layer, shape: tuple[Any, ...]) -> str:
        config = layer.get_config()
        size = config.get("kernel_size") or config.get("pool_size")
        where = "x".join(str(d) for d in shape[1:-1])
        return (
            f"variant '{self.variant}': {type(layer).__name__} with size {tuple(size or ())} and "
            f"padding '{config.get('padding', 'valid')}' on a {where} feature map leaves nothing; "
            "use fewer blocks, a smaller kernel or pool, or padding 'same'"
        )


def trainable_params(model: keras.Model) -> int:
    """Trainable parameter count, the number every budget in the seeds refers to."""
    return int(sum(math.prod(w.shape) for w in model.trainable_weights))


def total_params(model: keras.Model) -> int:
    """All parameters, batch-norm statistics included: what a seed's "Total params" line printed."""
    return int(sum(math.prod(w.shape) for w in model.weights))
