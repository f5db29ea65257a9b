"""Which device each worker process trains on, set through its environment.

Backends read these variables once, when they start, so they are set before
Keras is imported: in a worker's own process for ``cnn-search worker
--device``, in the child's environment for ``cnn-search run --workers N``.
``CUDA_VISIBLE_DEVICES`` pins a process to one GPU (TensorFlow, JAX and
PyTorch all honour it) and a memory cap per process lets several small
trials share it (:mod:`.memory`); on a CPU-only machine the cores are divided between the workers instead
of every worker starting a thread per core and all of them thrashing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import ConfigError
from .memory import FRACTION_ENV, memory_fraction

_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TF_NUM_INTRAOP_THREADS")


@dataclass(frozen=True)
class Slot:
    """One worker's place: a GPU index (None: the CPU), how many workers share it, CPU threads."""

    gpu: int | None
    share: int = 1
    threads: int | None = None

    @property
    def device(self) -> str:
        return "cpu" if self.gpu is None else f"gpu:{self.gpu}"


def parse_device(text: str) -> int | None:
    """``"gpu:1"`` -> 1, ``"cpu"`` -> None; anything else is a one-line error."""
    match = re.fullmatch(r"gpu:(\d+)", text.strip().lower())
    if match:
        return int(match.group(1))
    if text.strip().lower() == "cpu":
        return None
    raise ConfigError(f"--device {text!r}: expected gpu:K (K = a GPU index, e.g. gpu:0) or cpu")


def parse_gpus(text: str) -> list[int]:
    """``"0,1,3"`` -> [0, 1, 3]: the GPU indices ``run --gpus`` may use."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts or not all(p.isdigit() for p in parts):
        raise ConfigError(f"--gpus {text!r}: expected comma-separated GPU indices, e.g. 0,1")
    gpus = [int(p) for p in parts]
    if len(set(gpus)) != len(gpus):
        raise ConfigError(f"--gpus {text!r}: a GPU is listed twice")
    return gpus


def detect_gpus() -> list[int]:
    """Indices of the NVIDIA GPUs on this host, without starting a backend (which would claim one).

    ``CUDA_VISIBLE_DEVICES`` is honoured; no ``nvidia-smi`` means no GPUs.
    """
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [int(p) for p in visible.split(",") if p.strip().isdigit()]
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=20, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [int(m) for m in re.findall(r"^GPU (\d+):", out, flags=re.MULTILINE)]


def plan_slots(workers: int | None, gpus: Sequence[int], trials_per_gpu: int = 1,
               cpus: int | None = None) -> list[Slot]:
    """Place ``workers`` processes: ``trials_per_gpu`` per GPU, or on the CPU with the cores divided.

    ``workers=None`` fills every GPU slot (one CPU worker when there is no GPU).
    """
    if trials_per_gpu < 1:
        raise ConfigError(f"--trials-per-gpu must be at least 1, got {trials_per_gpu}")
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers must be at least 1 to run trials here, got {workers}")
    if gpus:
        capacity = len(gpus) * trials_per_gpu
        count = capacity if workers is None else workers
        if count > capacity:
            raise ConfigError(f"--workers {count} needs {count} GPU slots but {len(gpus)} GPU(s) x "
                              f"--trials-per-gpu {trials_per_gpu} give {capacity}; raise --trials-per-gpu "
                              "or lower --workers")
        return [Slot(gpu=gpus[i // trials_per_gpu], share=trials_per_gpu) for i in range(count)]
    count = 1 if workers is None else workers
    cores = cpus or os.cpu_count() or 1
    threads = [cores // count + (1 if i < cores % count else 0) for i in range(count)]
    return [Slot(gpu=None, threads=max(t, 1)) for t in threads]


def device_env(slot: Slot) -> dict[str, str]:
    """Environment variables that put a fresh process on ``slot``."""
    return {**placement_env(slot.gpu, slot.share), **threads_env(slot.threads)}


def placement_env(gpu: int | None, share: int = 1) -> dict[str, str]:
    """Pin to GPU ``gpu``, one of ``share`` processes on it each capped to its part, or hide every GPU (None).

    The caps every backend reads at start-up are set here (TensorFlow's memory
    growth, JAX's preallocation off and memory fraction); the fraction also
    travels in ``CNN_SEARCH_GPU_MEMORY_FRACTION`` for the caps a process sets
    itself after import (TensorFlow's memory limit, PyTorch's per-process
    fraction: :func:`search.workers.memory.apply_memory_cap`).
    """
    if gpu is None:
        return {"CUDA_VISIBLE_DEVICES": "", "JAX_PLATFORMS": "cpu"}
    fraction = f"{memory_fraction(share):.3f}"
    return {"CUDA_VISIBLE_DEVICES": str(gpu), "TF_FORCE_GPU_ALLOW_GROWTH": "true",
            "XLA_PYTHON_CLIENT_PREALLOCATE": "false", "XLA_PYTHON_CLIENT_MEM_FRACTION": fraction,
            FRACTION_ENV: fraction}


def threads_env(threads: int | None) -> dict[str, str]:
    """Cap the backend's CPU threads (None: leave the backend's default, one per core)."""
    if threads is None:
        return {}
    env = {name: str(threads) for name in _THREAD_VARS}
    env["TF_NUM_INTEROP_THREADS"] = "1" if threads < 4 else "2"
    return env


def apply_env(env: dict[str, str]) -> None:
    """Set ``env`` in this process; must run before Keras (and its backend) is imported."""
    if "keras" in sys.modules:
        raise RuntimeError("device settings must be applied before keras is imported")
    os.environ.update(env)


#: What :func:`hide_gpus` found before hiding them: the host's GPUs and the variables it replaced.
_before_hiding: tuple[list[int], dict[str, str | None]] | None = None


def hide_gpus() -> bool:
    """Hide every GPU from this process, which only counts parameters and watches its worker processes.

    A backend started here would claim GPU memory the workers need. The
    host's GPUs are looked up first (:func:`host_gpus`, since this process's
    ``CUDA_VISIBLE_DEVICES`` then names none) and the replaced variables kept
    for the workers (:func:`unhidden_env`). Returns False when it is too late
    because Keras was imported first; calling it again is harmless.
    """
    global _before_hiding
    if _before_hiding is not None:
        return True
    if "keras" in sys.modules:
        return False
    env = placement_env(None)
    _before_hiding = (detect_gpus(), {name: os.environ.get(name) for name in env})
    apply_env(env)
    return True


def host_gpus() -> list[int]:
    """The GPUs of this host, as :func:`detect_gpus` saw them before :func:`hide_gpus` (if it ran)."""
    return list(_before_hiding[0]) if _before_hiding is not None else detect_gpus()


def unhidden_env() -> dict[str, str]:
    """This process's environment as it was before :func:`hide_gpus`: what a worker process starts from.

    A GPU worker's slot sets ``CUDA_VISIBLE_DEVICES`` but not ``JAX_PLATFORMS``;
    it must not inherit the ``cpu`` that only hid the GPUs from its parent.
    """
    env = dict(os.environ)
    for name, value in (_before_hiding[1] if _before_hiding is not None else {}).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env
