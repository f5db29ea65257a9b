"""Per-process GPU memory caps, so that K trials sharing one GPU cannot starve each other.

Every backend by default lets one process take (nearly) the whole card:
TensorFlow maps all of it at start, JAX preallocates 75 %, PyTorch's caching
allocator grows until the card is full and keeps what it freed. With
``--trials-per-gpu K`` each worker is therefore capped to its part of the card,
``GPU_SHARE_OF_CARD / K``, in the way its backend offers:

- JAX: ``XLA_PYTHON_CLIENT_PREALLOCATE=false`` and
  ``XLA_PYTHON_CLIENT_MEM_FRACTION`` (read when JAX starts, so set in the
  environment by :func:`search.workers.devices.placement_env`);
- TensorFlow: memory growth (``TF_FORCE_GPU_ALLOW_GROWTH``, environment) and a
  logical device with ``memory_limit`` = the fraction of the card's memory
  (set here, after import and before any GPU op);
- PyTorch: ``torch.cuda.set_per_process_memory_fraction`` (set here).

The fraction travels in :data:`FRACTION_ENV` so that the in-process part
applies the same share the environment part did. A trial that still runs out
of its share fails with a reason starting "out of memory" and the worker goes
on with the next one (:func:`search.execution.trial.describe_failure`).
"""

from __future__ import annotations

import os
import shutil
import subprocess

#: How much of a card the workers on it may use together; the rest is left to the CUDA context and cuDNN
#: workspaces, which no backend's cap covers.
GPU_SHARE_OF_CARD = 0.9

#: The fraction of its GPU this process may use (set by ``placement_env`` for a GPU slot).
FRACTION_ENV = "CNN_SEARCH_GPU_MEMORY_FRACTION"


def memory_fraction(share: int) -> float:
    """The part of one GPU's memory each of ``share`` processes on it may use."""
    return round(GPU_SHARE_OF_CARD / share, 3)


def apply_memory_cap() -> str:
    """Cap this process's GPU memory to ``$CNN_SEARCH_GPU_MEMORY_FRACTION`` on the Keras backend in use.

    Call it after Keras is imported and before any model is built (a
    TensorFlow GPU that has been initialised can no longer be configured).
    Returns what was done, in words, for the worker's start-up line; on a
    CPU-only process (or without a fraction) it does nothing.
    """
    text = os.environ.get(FRACTION_ENV)
    if not text:
        return "no GPU memory cap"
    fraction = float(text)
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        return _jax_cap()
    if backend == "torch":
        return _torch_cap(fraction)
    if backend == "tensorflow":
        return _tensorflow_cap(fraction)
    return f"no GPU memory cap for backend {backend}"


def _jax_cap() -> str:
    import jax

    if not any(d.platform == "gpu" for d in jax.devices()):
        return "no GPU: no memory cap"
    return (f"JAX memory fraction {os.environ.get('XLA_PYTHON_CLIENT_MEM_FRACTION', 'default')}, preallocation "
            f"{os.environ.get('XLA_PYTHON_CLIENT_PREALLOCATE', 'on')}")


def _torch_cap(fraction: float) -> str:
    import torch

    if not torch.cuda.is_available():
        return "no GPU: no memory cap"
    torch.cuda.set_per_process_memory_fraction(fraction, 0)
    return f"torch per-process memory fraction {fraction}"


def _tensorflow_cap(fraction: float) -> str:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "no GPU: no memory cap"
    total = card_memory_mib()
    if total is None:  # growth (from the environment) still keeps each process to what it uses
        return "TensorFlow memory growth (card size unknown: no hard limit)"
    limit = int(total * fraction)
    tf.config.set_logical_device_configuration(gpus[0], [tf.config.LogicalDeviceConfiguration(memory_limit=limit)])
    return f"TensorFlow memory limit {limit} MiB ({fraction} of {total} MiB), memory growth"


def card_memory_mib() -> int | None:
    """Total memory of this process's GPU (the first of ``CUDA_VISIBLE_DEVICES``), from nvidia-smi."""
    smi = shutil.which("nvidia-smi")
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "0").split(",")[0].strip() or "0"
    if smi is None:
        return None
    try:
        out = subprocess.run([smi, "--query-gpu=memory.total", "--format=csv,noheader,nounits", "-i", visible],
                             capture_output=True, text=True, timeout=20, check=False).stdout
        return int(out.split()[0])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None
