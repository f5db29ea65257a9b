"""Process-level setup every run records: seeds, package versions, device.

A result is only comparable with another if we know what produced it, so
every run stores the seed, the library versions and the device alongside
its metrics.
"""

from __future__ import annotations

import os
import platform
from functools import lru_cache

#: Environment variable holding a storage URL, so a password stays out of shell history and `ps`.
STORAGE_ENV = "CNN_SEARCH_STORAGE"

PACKAGES = ("cnn-search", "keras", "tensorflow", "jax", "torch", "numpy", "scikit-learn", "scikeras",
            "optuna", "pandas", "matplotlib", "pydantic")


def quiet_backend_logs() -> None:
    """Silence TensorFlow's C++ start-up chatter before it is imported."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")


def seed_everything(seed: int, deterministic: bool = True) -> None:
    """Seed Python, NumPy and the Keras backend; make TF ops deterministic on request.

    Determinism is what lets two CPU runs with one seed report the same
    metrics; it costs a little speed, and Keras refuses XLA (``jit_compile``)
    while it is on, hence the switch.
    """
    import keras

    keras.utils.set_random_seed(seed)
    set_op_determinism(deterministic)


def set_op_determinism(on: bool) -> bool:
    """Turn TensorFlow's deterministic ops on or off; False where the backend has no such switch.

    The switch is process-wide, so a run that asks for speed (XLA) must turn
    it off again. JAX and PyTorch have no global switch of this kind (JAX's
    CPU kernels are deterministic; on GPU, XLA flags would be needed), so
    nothing is done there and nothing TensorFlow-only is imported.
    """
    import keras

    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    from .compat import disable_op_determinism

    if on:
        tf.config.experimental.enable_op_determinism()
    else:
        disable_op_determinism()
    return True


@lru_cache(maxsize=1)
def package_versions() -> dict[str, str]:
    """Installed versions of the packages that shape a result (absent ones left out)."""
    from importlib import metadata  # here: a quarter of a second that read-only commands do not need

    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def backend_name() -> str:
    """The Keras backend this process runs on: ``tensorflow``, ``jax`` or ``torch``.

    Recorded as its own field with every run (``backend`` in metrics.json, on
    every trial and bench row), so that results are grouped by backend without
    parsing the ``device`` text.
    """
    import keras

    return keras.backend.backend()


def run_environment() -> dict[str, str]:
    """``{"backend": ..., "device": ...}``: what every run, trial and study records about where it ran."""
    return {"backend": backend_name(), "device": device_description()}


@lru_cache(maxsize=1)
def device_description() -> str:
    """Backend and accelerator (or CPU model), e.g. ``tensorflow on cpu: AMD EPYC ... (2 cores)``."""
    import keras

    backend = keras.backend.backend()
    gpus = visible_gpus()
    if gpus:
        return f"{backend} on gpu: {', '.join(gpus)}"
    return f"{backend} on cpu: {_cpu_model()} ({os.cpu_count()} cores)"


def visible_gpus() -> list[str]:
    """GPUs the Keras backend can see (empty on CPU-only machines)."""
    import keras

    return _gpus(keras.backend.backend())


def _gpus(backend: str) -> list[str]:
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            return [d.name for d in tf.config.list_physical_devices("GPU")]
        if backend == "jax":
            import jax

            return [str(d) for d in jax.devices() if d.platform == "gpu"]
        if backend == "torch":
            import torch

            return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except Exception:  # a broken driver must not stop a CPU run
        return []
    return []


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def import_backend_quietly() -> None:
    """Import Keras (and its backend) with the C++ start-up lines hidden.

    TensorFlow prints oneDNN/CUDA notices to file descriptor 2 before its
    logging is configured, where no environment variable reaches them. They
    are captured during the import and shown only if the import fails.
    """
    import sys
    import tempfile

    quiet_backend_logs()
    if "keras" in sys.modules:
        return
    check_backend()
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import keras  # noqa: F401
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    _quiet_python_loggers()


#: The Keras backends cnn-search trains on; ``KERAS_BACKEND`` picks one (Keras's default: tensorflow).
BACKENDS = ("tensorflow", "jax", "torch")


def configured_backend() -> str:
    """The backend Keras will start: ``$KERAS_BACKEND``, else ``keras.json``'s, else ``tensorflow``.

    Read the way Keras reads it (``$KERAS_HOME``, default ``~/.keras``), without importing Keras.
    """
    import json

    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    try:
        with open(os.path.join(home, "keras.json"), encoding="utf-8") as fh:
            return str(json.load(fh).get("backend", "tensorflow"))
    except (OSError, ValueError, AttributeError):
        return "tensorflow"


def check_backend() -> str:
    """The configured backend, or a one-line error if it is not one we train on or is not installed.

    Without this, a host with JAX but no TensorFlow (the GPU machines) that
    forgot ``KERAS_BACKEND`` gets a 40-line traceback from inside Keras.
    """
    from importlib.util import find_spec

    from .errors import ConfigError

    backend = configured_backend()
    installed = [b for b in BACKENDS if find_spec(b) is not None]
    if backend not in BACKENDS:
        raise ConfigError(f"KERAS_BACKEND={backend!r}: expected one of {', '.join(BACKENDS)}")
    if backend not in installed:
        hint = f"set KERAS_BACKEND to {' or '.join(installed)}" if installed else "install jax, torch or tensorflow"
        raise ConfigError(f"KERAS_BACKEND={backend} (Keras's default when unset): {backend} is not installed; {hint}")
    return backend


def _quiet_python_loggers() -> None:
    """TensorFlow's retracing notices come through Python logging; keep errors only."""
    import logging

    logging.getLogger("tensorflow").setLevel(logging.ERROR)


def memory_usage() -> dict[str, float]:
    """This process's resident memory and the backend's GPU memory in use, in MiB.

    Recorded on every trial so that a worker whose memory creeps up from
    trial to trial shows it in the study, not only when it crashes.
    """
    import psutil

    usage = {"rss_mb": psutil.Process().memory_info().rss / 2**20}
    gpu = _gpu_bytes_in_use()
    if gpu is not None:
        usage["gpu_mb"] = gpu / 2**20
    return usage


def _gpu_bytes_in_use() -> int | None:
    import keras

    try:
        backend = keras.backend.backend()
        if not visible_gpus():
            return None
        if backend == "tensorflow":
            import tensorflow as tf

            return int(tf.config.experimental.get_memory_info("GPU:0")["current"])
        if backend == "jax":
            import jax

            return int((jax.devices()[0].memory_stats() or {}).get("bytes_in_use", 0))
        if backend == "torch":
            import torch

            return int(torch.cuda.memory_allocated())
    except Exception:  # memory statistics are informative; never fail a trial over them
        return None
    return None


def freeze_long_lived_objects() -> None:
    """Exclude everything alive now from future garbage collections.

    The imports of TensorFlow, Keras, Optuna, scikit-learn and pandas leave
    some 400,000 objects that live as long as the process, and every full
    collection (one per trial, after ``clear_session``) walked them all: 0.2 s
    or more a trial. Frozen, a collection walks only what the trial created.
    Call it once a long-running command has imported what it needs; objects
    frozen are still freed when their reference count drops, only cycles
    among them are never collected.
    """
    import gc

    gc.collect()
    gc.freeze()
