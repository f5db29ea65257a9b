"""One ``.npz`` file in the ``keras.datasets`` layout: the user's own arrays, checked before anything trains on them.

Keys: ``x_train`` and ``y_train``; optionally ``x_test`` with ``y_test``
(without them a stratified test split is carved once, see
:func:`~search.data.sources.common.carve_test_split`) and ``class_names``
(else ``"0"``..``"k-1"``). Images are (N, H, W) grayscale or (N, H, W, C)
with C 1 or 3, pixel values 0..255 in any integer or float dtype; labels are
integers 0..k-1 shaped (N,) or (N, 1). Pickled objects are never loaded.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import numpy as np

from search.data.cache import RawData, freeze
from search.data.fetch import file_digest
from search.data.sources.common import Decoded, one_line, split_arrays
from search.errors import DataError

_KEYS = "x_train, y_train (optionally x_test, y_test, class_names)"
_NO_TEST_HINT = "or store x_test and y_test in the file"


def content_key(path: Path) -> str:
    """sha256 hex of the file's bytes (memoised by path, size and mtime)."""
    return file_digest(_existing(path), "sha256")


def decode(path: Path) -> Decoded:
    """Read and check every array of the npz file ``path``."""
    if not zipfile.is_zipfile(_existing(path)):
        raise DataError(f"{path}: not an npz file (a zip of .npy arrays as numpy.savez writes, with {_KEYS})")
    try:
        with np.load(path, allow_pickle=False) as npz:
            return _decode(path, npz)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: cannot read the npz file ({one_line(exc)})") from exc


def _existing(path: Path) -> Path:
    if not path.is_file():
        raise DataError(f"{path}: no such file; the npz source needs an .npz file with {_KEYS}")
    return path


def _decode(path: Path, npz: np.lib.npyio.NpzFile) -> Decoded:
    keys = set(npz.files)
    for key in ("x_train", "y_train"):
        if key not in keys:
            raise DataError(f"{path}: no {key!r} array (it has: {', '.join(sorted(keys)) or 'none'}); needs {_KEYS}")
    if ("x_test" in keys) != ("y_test" in keys):
        have, lack = ("x_test", "y_test") if "x_test" in keys else ("y_test", "x_test")
        raise DataError(f"{path}: has {have!r} but no {lack!r}; give both or neither (a test split is then carved)")
    splits = ("train", "test") if "x_test" in keys else ("train",)
    x = {s: _images(path, npz, f"x_{s}") for s in splits}
    y = {s: _labels(path, npz, f"y_{s}", len(x[s])) for s in splits}
    if "test" in x and x["test"].shape[1:] != x["train"].shape[1:]:
        raise DataError(f"{path}: x_train images are {_shape(x['train'])} but x_test images are "
                        f"{_shape(x['test'])}; both must have the same height, width and channels")
    class_names = _class_names(path, npz) if "class_names" in keys else None
    classes = len(class_names) if class_names is not None else max(int(v.max()) for v in y.values()) + 1
    origin = "from class_names" if class_names is not None else "the largest label + 1"
    for s, labels in y.items():
        lo, hi = int(labels.min()), int(labels.max())
        if lo < 0 or hi >= classes:
            raise DataError(f"{path}: y_{s} has labels {lo}..{hi}, expected 0..{classes - 1} ({classes} classes, "
                            f"{origin})")
    if len(np.unique(y["train"])) < 2:
        raise DataError(f"{path}: every y_train label is {int(y['train'][0])}; at least two classes are needed")
    names = class_names or tuple(str(i) for i in range(classes))
    if "test" in x:
        arrays = {"x_train": x["train"], "y_train": y["train"], "x_test": x["test"], "y_test": y["test"]}
        return Decoded(arrays, names)
    return split_arrays(x["train"], y["train"], names, where=path, hint=_NO_TEST_HINT)


def _images(path: Path, npz: np.lib.npyio.NpzFile, key: str) -> np.ndarray:
    """``npz[key]`` as uint8 (N, H, W, C), after checking its shape and pixel range."""
    x = _array(path, npz, key)
    if x.ndim == 3:
        x = x[..., np.newaxis]
    if x.ndim != 4 or x.shape[-1] not in (1, 3):
        raise DataError(f"{path}: {key} has shape {x.shape}; expected (N, H, W) or (N, H, W, C) with C 1 or 3")
    if len(x) == 0:
        raise DataError(f"{path}: {key} holds no images")
    if x.dtype.kind not in "iuf":
        raise DataError(f"{path}: {key} has dtype {x.dtype}; pixel values must be integers or floats 0..255")
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        raise DataError(f"{path}: {key} holds NaN or infinite values; pixel values must be 0..255")
    lo, hi = x.min(), x.max()
    if x.dtype.kind == "f" and hi <= 1.0:
        raise DataError(f"{path}: {key} values are {lo:g}..{hi:g}; pixel values must be 0..255, "
                        "so multiply images scaled to 0..1 by 255 before saving")
    if lo < 0 or hi > 255:
        raise DataError(f"{path}: {key} values are {lo:g}..{hi:g}; pixel values must be 0..255")
    if x.dtype.kind == "f":
        x = np.rint(x)
    return np.ascontiguousarray(x, dtype=np.uint8)


def _labels(path: Path, npz: np.lib.npyio.NpzFile, key: str, n: int) -> np.ndarray:
    """``npz[key]`` as int64 (N,), after checking it is integers, one per image."""
    y = _array(path, npz, key)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise DataError(f"{path}: {key} has shape {y.shape} and dtype {y.dtype}; expected integer labels "
                        "shaped (N,) or (N, 1)")
    if len(y) != n:
        raise DataError(f"{path}: x_{key[2:]} has {n} images but {key} has {len(y)} labels; they must match")
    return y.astype(np.int64)


def _class_names(path: Path, npz: np.lib.npyio.NpzFile) -> tuple[str, ...]:
    names = _array(path, npz, "class_names")
    if names.ndim != 1 or names.dtype.kind not in "US" or len(names) == 0:
        raise DataError(f"{path}: class_names has shape {names.shape} and dtype {names.dtype}; expected "
                        "a 1-D array of strings, e.g. np.array(['cat', 'dog'])")
    out = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names.tolist())
    if len(set(out)) != len(out):
        raise DataError(f"{path}: class_names repeats a name; every class needs its own")
    return out


def _array(path: Path, npz: np.lib.npyio.NpzFile, key: str) -> np.ndarray:
    try:
        return npz[key]
    except ValueError as exc:  # an object array: it would need pickle
        raise DataError(f"{path}: {key} cannot be read without pickle ({one_line(exc)}); "
                        "store it as a numeric (or, for class_names, string) array") from exc


def _shape(x: np.ndarray) -> str:
    return "x".join(str(d) for d in x.shape[1:])


class _Arrays(dict):
    """In-memory arrays with the ``files`` attribute an ``NpzFile`` has, so they are checked alike."""

    @property
    def files(self) -> list[str]:
        return list(self)


def from_arrays(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray | None = None,
                y_test: np.ndarray | None = None, class_names: tuple[str, ...] | list[str] | None = None) -> RawData:
    """The Python API's own arrays as a source, checked as an npz file's are (a test split carved if none).

    ``prepare(from_arrays(...), DataOptions(...))`` is then a dataset any
    ``train(config, dataset=...)`` takes; its content key is a hash of the
    arrays, recorded with the run like a file's.
    """
    given = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test,
             "class_names": None if class_names is None else np.array(list(class_names), dtype=str)}
    arrays = _Arrays({k: np.asarray(v) for k, v in given.items() if v is not None})
    decoded = _decode(Path("arrays"), arrays)  # type: ignore[arg-type]
    digest = hashlib.sha256()
    for key in ("x_train", "y_train", "x_test", "y_test"):
        digest.update(np.ascontiguousarray(decoded.arrays[key]).tobytes())
    info = {"source": "arrays", "path": None, "input_shape": [int(d) for d in decoded.arrays["x_train"].shape[1:]],
            "content_key": digest.hexdigest(), **decoded.info}
    return RawData(source=Path("arrays"), **freeze(decoded.arrays), class_names=decoded.class_names, info=info)
