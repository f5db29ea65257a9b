"""Decoded-array cache: decompress the IDX files once, then memory-map ``.npy``.

Decompressing and decoding takes ~0.4 s; loading the ``.npy`` cache with
``mmap_mode="r"`` takes milliseconds, and within one process the arrays are
memoised so every caller shares one read-only copy.

The cache directory is written as a whole: the four arrays go into a temp
directory that is renamed into place last, so a crash never leaves a half
cache behind that a later run would trust. The directory name is derived from
the four files' md5s, so a different dataset version never reads stale arrays.

The other sources (:mod:`search.data.sources`) share this cache's root, its
all-or-nothing writes and its memo; their directories also hold ``meta.json``
(class names, the source's record, each array's shape and dtype), since
their arrays' shapes are only known once decoded.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from search.data.fetch import FILES, locate
from search.data.idx import read_idx
from search.data.settings import CLASS_NAMES

CACHE_ENV = "CNN_SEARCH_CACHE"

#: The arrays every cache directory holds, in this order.
ARRAY_NAMES = ("x_train", "y_train", "x_test", "y_test")
META_FILE = "meta.json"

# array name -> (source file, expected shape)
_ARRAYS: dict[str, tuple[str, tuple[int, ...]]] = {
    "x_train": ("train-images-idx3-ubyte.gz", (60000, 28, 28)),
    "y_train": ("train-labels-idx1-ubyte.gz", (60000,)),
    "x_test": ("t10k-images-idx3-ubyte.gz", (10000, 28, 28)),
    "y_test": ("t10k-labels-idx1-ubyte.gz", (10000,)),
}


@dataclass(frozen=True)
class RawData:
    """A dataset's decoded arrays, read-only, plus where they came from.

    Fashion-MNIST's are uint8 shaped (N, 28, 28) with uint8 labels; every
    other source's images are uint8 (N, H, W, C) with C 1 or 3 and int64
    labels 0..k-1. ``info`` is what a run records about the source (its name,
    path, input shape, content key and any carved test split), so the defaults
    only suit code that builds Fashion-MNIST arrays by hand.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: Path
    class_names: tuple[str, ...] = CLASS_NAMES
    info: dict[str, Any] = field(default_factory=dict)


# Keyed by (source file or directory, cache directory) for Fashion-MNIST and by
# (source name, resolved path, options..., cache directory) for the others.
_memo: dict[tuple[Any, ...], RawData] = {}


def clear_memo() -> None:
    """Forget the arrays memoised in this process (tests use it to exercise the disk cache)."""
    _memo.clear()


def memoised(key: tuple[Any, ...], load: Callable[[], RawData]) -> RawData:
    """The RawData memoised under ``key`` in this process, calling ``load`` only the first time."""
    raw = _memo.get(key)
    if raw is None:
        raw = _memo[key] = load()
    return raw


def cache_root() -> Path:
    """``$CNN_SEARCH_CACHE``, else ``$XDG_CACHE_HOME``/``~/.cache`` + ``cnn-search``."""
    root = os.environ.get(CACHE_ENV)
    if root:
        return Path(root).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "cnn-search"


def source_cache_dir(source: str, content_key: str) -> Path:
    """Where a non-Fashion-MNIST source's decoded arrays live: ``<cache root>/<source>/<content key>``."""
    return cache_root() / source / content_key


def content_key() -> str:
    """Fashion-MNIST's content key: sha256 hex of its four files' names and md5s."""
    key = "\n".join(f"{name} {md5}" for name, md5 in sorted(FILES.items()))
    return hashlib.sha256(key.encode()).hexdigest()


def cache_dir() -> Path:
    """Where Fashion-MNIST's decoded arrays live: ``<root>/<first 12 hex of its content key>``.

    ``<root>`` is ``$CNN_SEARCH_CACHE`` itself (as it always was) or, without
    it, ``$XDG_CACHE_HOME``/``~/.cache`` + ``cnn-search/fashion-mnist``.
    """
    base = cache_root() if os.environ.get(CACHE_ENV) else cache_root() / "fashion-mnist"
    return base / content_key()[:12]


def load_raw(data_dir: str | os.PathLike[str] | None = None, *, download: bool = True) -> RawData:
    """Locate and verify the files (see :func:`locate`), then return the decoded arrays.

    Uses the in-process memo, then the on-disk cache, and only decodes the
    gzip files when neither has them.
    """
    source = locate(data_dir, download=download)
    target = cache_dir()
    return memoised((source.resolve(), target), lambda: _decode_or_read(source, target))


def _decode_or_read(source: Path, target: Path) -> RawData:
    expected = {name: (shape, np.dtype(np.uint8)) for name, (_, shape) in _ARRAYS.items()}
    arrays = read_cache(target, expected)
    if arrays is None:
        arrays = {name: read_idx(source / fname, shape) for name, (fname, shape) in _ARRAYS.items()}
        arrays = write_cache(target, arrays) or arrays
    info = {"source": "fashion-mnist", "path": str(source), "input_shape": [28, 28, 1], "content_key": content_key()}
    return RawData(source=source, **freeze(arrays), class_names=CLASS_NAMES, info=info)


def freeze(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Mark every array read-only (they are shared by every caller in the process) and return them."""
    for arr in arrays.values():
        if arr.flags.writeable:
            arr.setflags(write=False)
    return arrays


def read_cache(
    target: Path, expected: Mapping[str, tuple[tuple[int, ...], np.dtype]]
) -> dict[str, np.ndarray] | None:
    """Memory-map the cached arrays, or None if the cache is absent or not exactly ``expected``.

    ``expected`` maps each array name to its (shape, dtype).
    """
    if not target.is_dir():
        return None
    arrays = {}
    try:
        for name, (shape, dtype) in expected.items():
            arr = np.load(target / f"{name}.npy", mmap_mode="r", allow_pickle=False)
            if arr.shape != tuple(shape) or arr.dtype != dtype:
                return None
            arrays[name] = arr
    except (OSError, ValueError, EOFError):
        return None
    return arrays


def read_meta_cache(target: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
    """The arrays and ``meta.json`` of a cache written with ``meta``, or None if absent or not exactly right."""
    try:
        meta = json.loads((target / META_FILE).read_text(encoding="utf-8"))
        expected = {name: (tuple(meta["arrays"][name]["shape"]), np.dtype(meta["arrays"][name]["dtype"]))
                    for name in ARRAY_NAMES}
    except (OSError, ValueError, KeyError, TypeError):
        return None
    arrays = read_cache(target, expected)
    return None if arrays is None else (arrays, meta)


def write_cache(
    target: Path, arrays: dict[str, np.ndarray], meta: dict[str, Any] | None = None
) -> dict[str, np.ndarray] | None:
    """Write all arrays (and ``meta`` as ``meta.json``) to a temp dir, rename it onto ``target``.

    Returns the arrays memory-mapped from ``target``. ``meta`` gets an
    ``arrays`` entry (each array's shape and dtype) so :func:`read_meta_cache`
    can check the files without knowing the data. The cache only saves time,
    so failing to write it (read-only home, full disk) is a warning, not an
    error; None is returned then.
    """
    expected = {name: (arr.shape, arr.dtype) for name, arr in arrays.items()}
    tmp: Path | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"))
        for name, arr in arrays.items():
            np.save(tmp / f"{name}.npy", arr, allow_pickle=False)
        if meta is not None:
            shapes = {name: {"shape": list(shape), "dtype": str(dtype)} for name, (shape, dtype) in expected.items()}
            (tmp / META_FILE).write_text(json.dumps({**meta, "arrays": shapes}, indent=2) + "\n", encoding="utf-8")
        if target.exists():  # stale or broken: the reader rejected it
            shutil.rmtree(target, ignore_errors=True)
        try:
            os.rename(tmp, target)
        except OSError:
            if read_cache(target, expected) is None:  # not a concurrent writer's complete cache
                raise
        return read_cache(target, expected)
    except OSError as exc:
        warnings.warn(f"cannot write the decoded-data cache at {target} ({exc}); continuing without it", stacklevel=3)
        return None
    finally:
        if tmp is not None and tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
