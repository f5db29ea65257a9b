"""The training arrays put on the accelerator once per run, where the backend can slice batches there.

Keras feeds NumPy arrays to ``fit`` batch by batch: every step copies a batch
from host memory to the GPU, which for the small models of a search is a
large part of a step. JAX and PyTorch arrays that already live on the GPU are
sliced there by Keras's array adapter (``JaxSliceable``, ``TorchSliceable``),
so the whole of Fashion-MNIST (55 MB as uint8) is copied once instead. On
TensorFlow Keras goes through ``tf.data`` either way, and on a CPU there is
nothing to gain, so the arrays are left as they are. The batches, their order
and the results are the same either way (tested on the JAX CPU device).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

#: Arrays larger than this together stay on the host (the GPU's memory belongs to the model first).
FITS_BYTES = 2**30


def on_device(arrays: Sequence[np.ndarray], *, force: bool = False) -> tuple[tuple[Any, ...], bool]:
    """``arrays`` on the accelerator (JAX, PyTorch with a GPU, when they fit), and whether they were moved.

    ``force`` moves them to the backend's default device even without a GPU
    (tests check on the CPU that training on device arrays is the same).
    """
    from ..runtime import visible_gpus

    backend = keras.backend.backend()
    fits = sum(a.nbytes for a in arrays) <= FITS_BYTES
    if backend not in ("jax", "torch") or not (force or (fits and visible_gpus())):
        return tuple(arrays), False
    if backend == "jax":
        import jax

        return tuple(jax.device_put(a) for a in arrays), True
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    return tuple(torch.as_tensor(a, device=device) for a in arrays), True
