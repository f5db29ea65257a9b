"""Keras losses of the training recipe, in a module of their own so the recipe's declarations import no backend.

Importing this module registers the loss with Keras: a process that loads a
saved model trained with label smoothing (``keras.saving.load_model``)
imports it first, as it imports ``search.zoo.augmentation`` for cutout.
"""

from __future__ import annotations

from typing import Any

import keras


@keras.saving.register_keras_serializable(package="cnn_search")
class SmoothedSparseCrossentropy(keras.losses.Loss):
    """Cross-entropy with label smoothing on integer labels.

    Keras's sparse cross-entropy has no ``label_smoothing``; this one-hot
    encodes the labels in the graph and uses the categorical loss, so the
    data pipeline keeps integer labels whatever the loss.
    """

    def __init__(self, label_smoothing: float = 0.0, name: str = "smoothed_sparse_crossentropy",
                 **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        classes = keras.ops.shape(y_pred)[-1]
        labels = keras.ops.one_hot(keras.ops.cast(keras.ops.reshape(y_true, (-1,)), "int32"), classes)
        return keras.losses.categorical_crossentropy(labels, y_pred, label_smoothing=self.label_smoothing)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "label_smoothing": self.label_smoothing}


@keras.saving.register_keras_serializable(package="cnn_search")
class OneHotLabels(keras.losses.Loss):
    """A user's categorical loss on integer labels: the labels are one-hot encoded in the graph.

    cnn-search feeds integer labels everywhere (scikeras's folds, ``fit``, the
    test pass); a builder compiled with ``categorical_crossentropy`` expects
    one-hot ones, which this gives its loss, unchanged otherwise.
    """

    def __init__(self, loss: Any = "categorical_crossentropy", name: str | None = None, **kwargs: Any) -> None:
        self.inner = keras.losses.get(loss)
        super().__init__(name=name or f"one_hot_{getattr(self.inner, 'name', None) or 'loss'}", **kwargs)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        classes = keras.ops.shape(y_pred)[-1]
        labels = keras.ops.one_hot(keras.ops.cast(keras.ops.reshape(y_true, (-1,)), "int32"), classes)
        # Per-image values, as ``call`` must return: a Loss object's own ``call``, not its reducing __call__.
        per_image = self.inner.call if isinstance(self.inner, keras.losses.Loss) else self.inner
        return per_image(labels, y_pred)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "loss": keras.losses.serialize(self.inner)}
