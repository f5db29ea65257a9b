"""Decoded-array cache: decompress the IDX files once, then memory-map ``.npy``.

Decompressing and decoding takes ~0.4 s; loading the ``.npy`` cache with
``mmap_mode="r"`` takes milliseconds, and within one process the arrays are
memoised so every caller shares one read-only copy.

The cache directory is written as a whole: the four arrays go into a temp
directory that is renamed into place last, so a crash never leaves a half
cache behind that a later run would trust. The directory name is derived from
the four files' md5s, so a different dataset version never reads stale arrays.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from search.data.fetch import FILES, locate
from search.data.idx import read_idx

CACHE_ENV = "CNN_SEARCH_CACHE"

# array name -> (source file, expected shape)
_ARRAYS: dict[str, tuple[str, tuple[int, ...]]] = {
    "x_train": ("train-images-idx3-ubyte.gz", (60000, 28, 28)),
    "y_train": ("train-labels-idx1-ubyte.gz", (60000,)),
    "x_test": ("t10k-images-idx3-ubyte.gz", (10000, 28, 28)),
    "y_test": ("t10k-labels-idx1-ubyte.gz", (10000,)),
}


@dataclass(frozen=True)
class RawData:
    """The official Fashion-MNIST arrays, uint8 and read-only, plus where they came from."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: Path


_memo: dict[tuple[Path, Path], RawData] = {}


def clear_memo() -> None:
    """Forget the arrays memoised in this process (tests use it to exercise the disk cache)."""
    _memo.clear()


def cache_dir() -> Path:
    """Where the decoded arrays live: ``<root>/<first 12 hex of a hash of the four md5s>``.

    ``<root>`` is ``$CNN_SEARCH_CACHE`` or ``$XDG_CACHE_HOME``/``~/.cache`` +
    ``cnn-search/fashion-mnist``.
    """
    root = os.environ.get(CACHE_ENV)
    if root:
        base = Path(root).expanduser()
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = (Path(xdg) if xdg else Path.home() / ".cache") / "cnn-search" / "fashion-mnist"
    key = "\n".join(f"{name} {md5}" for name, md5 in sorted(FILES.items()))
    return base / hashlib.sha256(key.encode()).hexdigest()[:12]


def load_raw(data_dir: str | os.PathLike[str] | None = None, *, download: bool = True) -> RawData:
    """Locate and verify the files (see :func:`locate`), then return the decoded arrays.

    Uses the in-process memo, then the on-disk cache, and only decodes the
    gzip files when neither has them.
    """
    source = locate(data_dir, download=download)
    target = cache_dir()
    key = (source.resolve(), target)
    raw = _memo.get(key)
    if raw is None:
        arrays = _read_cache(target)
        if arrays is None:
            arrays = {name: read_idx(source / fname, shape) for name, (fname, shape) in _ARRAYS.items()}
            arrays = _write_cache(target, arrays) or arrays
        for arr in arrays.values():
            if arr.flags.writeable:
                arr.setflags(write=False)
        raw = _memo[key] = RawData(source=source, **arrays)
    return raw


def _read_cache(target: Path) -> dict[str, np.ndarray] | None:
    """Memory-map the cached arrays, or None if the cache is absent or not exactly right."""
    if not target.is_dir():
        return None
    arrays = {}
    try:
        for name, (_, shape) in _ARRAYS.items():
            arr = np.load(target / f"{name}.npy", mmap_mode="r", allow_pickle=False)
            if arr.shape != shape or arr.dtype != np.uint8:
                return None
            arrays[name] = arr
    except (OSError, ValueError, EOFError):
        return None
    return arrays


def _write_cache(target: Path, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray] | None:
    """Write all arrays to a temp dir, rename it onto ``target``, return them memory-mapped.

    The cache only saves time, so failing to write it (read-only home, full
    disk) is a warning, not an error; None is returned then.
    """
    tmp: Path | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"))
        for name, arr in arrays.items():
            np.save(tmp / f"{name}.npy", arr, allow_pickle=False)
        if target.exists():  # stale or broken: _read_cache rejected it
            shutil.rmtree(target, ignore_errors=True)
        try:
            os.rename(tmp, target)
        except OSError:
            if _read_cache(target) is None:  # not a concurrent writer's complete cache
                raise
        return _read_cache(target)
    except OSError as exc:
        warnings.warn(f"cannot write the decoded-data cache at {target} ({exc}); continuing without it", stacklevel=3)
        return None
    finally:
        if tmp is not None and tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
