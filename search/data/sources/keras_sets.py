"""MNIST, CIFAR-10 and CIFAR-100 from the same files (and mirrors) ``keras.datasets`` uses.

Lookup order: ``data_dir`` if given, then the Keras cache (``$KERAS_HOME`` or
``~/.keras``, ``datasets/``, where ``keras.datasets`` keeps them, so either
tool reuses the other's download), then a download into the Keras cache. A
file is sha256-checked against :data:`CHECKSUMS` (the values ``keras.datasets``
checks) before it is decoded; once decoded, the arrays are served from the
cache, which is keyed by that checksum, so later loads never re-hash the file.

CIFAR's batches are Python pickles: they are only unpickled after the
checksum passed, and then with an unpickler that builds numpy arrays and
nothing else.
"""

from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path
from typing import Any

import numpy as np

from search.data.fetch import download, file_digest, keras_cache_dir
from search.data.sources import npz
from search.data.sources.common import Decoded, one_line
from search.errors import DataError

KERAS_SETS = ("mnist", "cifar10", "cifar100")

#: Where each set's file is downloaded from (the file name is appended).
MIRRORS: dict[str, str] = {
    "mnist": "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
    "cifar10": "https://www.cs.toronto.edu/~kriz/",
    "cifar100": "https://www.cs.toronto.edu/~kriz/",
}

#: Each set's file, named as the mirror names it.
FILE_NAMES: dict[str, str] = {
    "mnist": "mnist.npz",
    "cifar10": "cifar-10-python.tar.gz",
    "cifar100": "cifar-100-python.tar.gz",
}

#: sha256 of each file, as keras/src/datasets/{mnist,cifar10,cifar100}.py check them (the CIFAR
#: archives' md5s on the Toronto page are c58f30108f718f92721af3b95e74349a and eb9058c3a382ffc7106e4002c42a8d85).
CHECKSUMS: dict[str, str] = {
    "mnist.npz": "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
    "cifar-10-python.tar.gz": "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
    "cifar-100-python.tar.gz": "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7",
}

# Names Keras has kept the same archive under in its cache: Keras 3's get_file(extract=True)
# and tf.keras 2's get_file(untar=True).
_KERAS_ALIASES: dict[str, tuple[str, ...]] = {
    "cifar-10-python.tar.gz": ("cifar-10-batches-py-target_archive", "cifar-10-batches-py.tar.gz"),
    "cifar-100-python.tar.gz": ("cifar-100-python-target_archive",),
}

# set -> (folder in the tar, train members, test member, meta member, label key, class-name key)
_CIFAR: dict[str, tuple[str, tuple[str, ...], str, str, str, str]] = {
    "cifar10": ("cifar-10-batches-py", tuple(f"data_batch_{i}" for i in range(1, 6)), "test_batch",
                "batches.meta", "labels", "label_names"),
    "cifar100": ("cifar-100-python", ("train",), "test", "meta", "fine_labels", "fine_label_names"),
}


def keras_datasets_dir() -> Path:
    """The Keras cache's ``datasets`` directory (honours ``$KERAS_HOME``)."""
    return keras_cache_dir().parent


def locate_file(
    source: str,
    data_dir: str | Path | None = None,
    *,
    download_missing: bool = True,
    mirror: str | None = None,
) -> Path:
    """The set's file: in ``data_dir``, else the Keras cache, else downloaded (and checked) into the Keras cache.

    ``mirror`` overrides :data:`MIRRORS` (any URL scheme urllib knows,
    ``file://`` included). A file found is not checked here: see :func:`verify`.
    """
    name = FILE_NAMES[source]
    cache = keras_datasets_dir()
    candidates = [cache / n for n in (name, *_KERAS_ALIASES.get(name, ()))]
    if data_dir is not None and str(data_dir) != "":
        candidates.insert(0, Path(data_dir).expanduser() / name)
    for path in candidates:
        if path.is_file():
            return path
    where = f"{cache} (or in the directory passed as data_dir)"
    if not download_missing:
        raise DataError(f"{candidates[0]}: file not found and downloading is disabled; put {name} in {where}")
    base = mirror if mirror is not None else MIRRORS[source]
    target = cache / name
    download(base.rstrip("/") + "/" + name, target, CHECKSUMS[name], algorithm="sha256",
             hint=f"put {name} (sha256 {CHECKSUMS[name]}) in {where}")
    return target


def content_key(source: str) -> str:
    """The set's content key: its file's official sha256."""
    return CHECKSUMS[FILE_NAMES[source]]


def verify(path: Path, source: str) -> None:
    """Raise :class:`DataError` unless ``path`` has the set's official sha256."""
    name = FILE_NAMES[source]
    got, expected = file_digest(path, "sha256"), CHECKSUMS[name]
    if got != expected:
        raise DataError(f"{path}: sha256 {got} is not the official {name}'s {expected}; the file is truncated, "
                        f"corrupted or another file — delete it to download it again, or replace it")


def decode(path: Path, source: str) -> Decoded:
    """Verify ``path``, then decode it into channels-last uint8 images and int64 labels."""
    verify(path, source)
    if source == "mnist":
        return npz.decode(path)
    return _decode_cifar(path, source)


def _decode_cifar(path: Path, source: str) -> Decoded:
    folder, train, test, meta, label_key, names_key = _CIFAR[source]
    wanted = {f"{folder}/{member}" for member in (*train, test, meta)}
    found: dict[str, dict[str, Any]] = {}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:  # one pass over the gzip stream, in archive order
                if member.name in wanted and member.isfile():
                    found[member.name.split("/", 1)[1]] = _unpickle(tar.extractfile(member).read())
    except (OSError, EOFError, tarfile.TarError, pickle.UnpicklingError, ValueError) as exc:
        raise DataError(f"{path}: cannot read the CIFAR archive ({one_line(exc)})") from exc
    missing = [m for m in (*train, test, meta) if m not in found]
    if missing:
        raise DataError(f"{path}: the CIFAR archive lacks {folder}/{missing[0]}")
    x_train, y_train = _batches(path, [found[m] for m in train], label_key)
    x_test, y_test = _batches(path, [found[test]], label_key)
    names = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in found[meta].get(names_key, ()))
    if len(names) <= max(int(y_train.max()), int(y_test.max())):
        raise DataError(f"{path}: {folder}/{meta} names {len(names)} classes but the labels go up to "
                        f"{max(int(y_train.max()), int(y_test.max()))}")
    return Decoded({"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}, names)


def _batches(path: Path, batches: list[dict[str, Any]], label_key: str) -> tuple[np.ndarray, np.ndarray]:
    """Concatenated (N, 32, 32, 3) uint8 images and int64 labels of CIFAR batch dicts."""
    xs, ys = [], []
    for batch in batches:
        data, labels = batch.get("data"), _as_labels(batch.get(label_key))
        if labels is None or not _is_batch(data, labels):
            raise DataError(f"{path}: a CIFAR batch is not (N, 3072) uint8 data with N {label_key} 0..k-1")
        xs.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        ys.append(labels)
    return np.ascontiguousarray(np.concatenate(xs)), np.concatenate(ys)


def _as_labels(labels: Any) -> np.ndarray | None:
    try:
        return np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError):
        return None


def _is_batch(data: Any, labels: np.ndarray) -> bool:
    is_data = isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2 and data.shape[1] == 3072
    return is_data and labels.shape == (len(data),) and labels.min(initial=0) >= 0


class _ArrayUnpickler(pickle.Unpickler):
    """Builds numpy arrays and plain containers only: a pickle naming anything else is refused."""

    _ALLOWED = frozenset({("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"),
                          ("numpy._core.multiarray", "_reconstruct")})

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _unpickle(blob: bytes) -> dict[str, Any]:
    """A CIFAR batch dict with str keys (the originals were pickled by Python 2, so keys come back as bytes)."""
    obj = _ArrayUnpickler(io.BytesIO(blob), encoding="bytes").load()
    if not isinstance(obj, dict):
        raise ValueError(f"a batch is a {type(obj).__name__}, not a dict")
    return {k.decode() if isinstance(k, bytes) else str(k): v for k, v in obj.items()}
