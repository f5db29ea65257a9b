"""What every non-Fashion-MNIST source shares: the decoded form, the cache round trip, the carved test split.

A source module only finds and decodes its files into a :class:`Decoded`;
:func:`load_cached` then serves it from (or writes it to) the memory-mapped
cache and adds the record a run keeps (``RawData.info``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from search.data.cache import RawData, freeze, read_meta_cache, source_cache_dir, write_cache
from search.errors import DataError

#: A source without its own test images gets this stratified fraction of each class as its test set,
#: drawn with this seed: fixed, so the test set never depends on a run's settings.
TEST_FRACTION = 0.2
TEST_SEED = 0


@dataclass
class Decoded:
    """A source's arrays as decoded (x uint8 (N, H, W, C), y int64), class names and extra ``info`` entries."""

    arrays: dict[str, np.ndarray]
    class_names: tuple[str, ...]
    info: dict[str, Any] = field(default_factory=dict)


def load_cached(source: str, content_key: str, path: Path, decode: Callable[[], Decoded]) -> RawData:
    """The source's arrays from its cache directory, calling ``decode`` (and writing the cache) only on a miss.

    ``path`` is recorded as where the data came from this time (the cache is
    keyed by content, so it may have been decoded from another copy).
    """
    target = source_cache_dir(source, content_key)
    hit = read_meta_cache(target)
    if hit is not None and not (isinstance(hit[1].get("class_names"), list) and isinstance(hit[1].get("info"), dict)):
        hit = None  # a meta.json someone edited: decode again, which rewrites it
    if hit is None:
        decoded = decode()
        meta = {"class_names": list(decoded.class_names), "info": decoded.info}
        arrays = write_cache(target, decoded.arrays, meta) or decoded.arrays
    else:
        arrays, meta = hit
    info = {
        "source": source,
        "path": str(path),
        "input_shape": [int(d) for d in arrays["x_train"].shape[1:]],
        "content_key": content_key,
        **meta["info"],
    }
    return RawData(source=path, **freeze(arrays), class_names=tuple(meta["class_names"]), info=info)


def carve_test_split(
    y: np.ndarray, class_names: tuple[str, ...], *, where: object, hint: str
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Sorted (train, test) indices taking :data:`TEST_FRACTION` of every class, and the split's record.

    Each class draws with its own generator (seeded by :data:`TEST_SEED` and
    the class index), so its test images depend only on its own images, not on
    how many other classes there are. Every class keeps at least one image on
    each side, so a class needs two; ``hint`` says how to avoid the carving.
    """
    test = []
    for c, name in enumerate(class_names):
        idx = np.flatnonzero(y == c)
        if len(idx) == 0:
            continue
        if len(idx) < 2:
            raise DataError(
                f"{where}: class {name!r} has only 1 image; carving a test split needs at least 2 per class ({hint})"
            )
        n = min(len(idx) - 1, max(1, math.floor(len(idx) * TEST_FRACTION + 0.5)))
        test.append(np.random.default_rng([TEST_SEED, c]).choice(idx, size=n, replace=False))
    test_idx = np.sort(np.concatenate(test))
    train_idx = np.setdiff1d(np.arange(len(y)), test_idx, assume_unique=True)
    return train_idx, test_idx, {"fraction": TEST_FRACTION, "seed": TEST_SEED, "n_test": int(len(test_idx))}


def split_arrays(x: np.ndarray, y: np.ndarray, class_names: tuple[str, ...], *, where: object, hint: str) -> Decoded:
    """A :class:`Decoded` whose test set is carved out of ``x``/``y`` (see :func:`carve_test_split`)."""
    train_idx, test_idx, record = carve_test_split(y, class_names, where=where, hint=hint)
    arrays = {"x_train": x[train_idx], "y_train": y[train_idx], "x_test": x[test_idx], "y_test": y[test_idx]}
    return Decoded(arrays, class_names, {"test_split": record})


def one_line(exc: BaseException) -> str:
    """An exception's message on one line (a :class:`DataError` is shown as one)."""
    return " ".join(str(exc).split()) or type(exc).__name__
