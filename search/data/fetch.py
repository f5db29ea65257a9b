"""Find, download and md5-verify the four Fashion-MNIST files.

A truncated download decodes into garbage (or fails deep inside numpy), so
every file is checked against its official md5 before anything reads it. The
check is memoised per process by (path, size, mtime_ns): hashing ~30 MB costs
~50 ms, which is fine once but not on every call.

Lookup order: an explicit directory, then ``$CNN_SEARCH_DATA``, then the Keras
cache (``$KERAS_HOME`` or ``~/.keras``, ``datasets/fashion-mnist``, the same
place ``keras.datasets.fashion_mnist`` downloads to, so either tool reuses the
other's files), downloading only into the Keras cache, never into a directory
the user named.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path

from search.errors import DataError
from search.fileio import atomic_path

#: Official md5 of each file (from the Fashion-MNIST MD5SUMS).
FILES: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}

#: Where ``keras.datasets.fashion_mnist`` downloads from.
MIRROR = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"

DATA_ENV = "CNN_SEARCH_DATA"
_HINT = "put the four Fashion-MNIST files in a directory and pass --data-dir or set CNN_SEARCH_DATA"
_CHUNK = 1 << 20
_DOWNLOAD_TIMEOUT_S = 60

_md5_memo: dict[tuple[str, int, int], str] = {}


def keras_cache_dir() -> Path:
    """The directory Keras itself caches Fashion-MNIST in (honours ``$KERAS_HOME``)."""
    home = os.environ.get("KERAS_HOME")
    base = Path(home).expanduser() if home else Path.home() / ".keras"
    return base / "datasets" / "fashion-mnist"


def file_md5(path: Path) -> str:
    """md5 hex digest of ``path``, memoised by (resolved path, size, mtime_ns)."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    digest = _md5_memo.get(key)
    if digest is None:
        h = hashlib.md5(usedforsecurity=False)
        with path.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                h.update(chunk)
        digest = h.hexdigest()
        _md5_memo[key] = digest
    return digest


def verify(path: Path, expected: str) -> None:
    """Raise :class:`DataError` unless ``path`` has md5 ``expected``."""
    got = file_md5(path)
    if got != expected:
        raise DataError(
            f"{path}: md5 mismatch (got {got}, expected {expected}); "
            "the file is truncated or corrupted — delete it and download it again"
        )


def locate(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    mirror: str | None = None,
) -> Path:
    """Return a directory holding the four verified Fashion-MNIST files.

    ``mirror`` overrides :data:`MIRROR` (read at call time, so tests can also
    monkeypatch it); any URL scheme urllib knows works, ``file://`` included.
    """
    if data_dir is not None and str(data_dir) != "":
        return _verified_user_dir(Path(data_dir).expanduser(), "--data-dir")
    env = os.environ.get(DATA_ENV)
    if env:
        return _verified_user_dir(Path(env).expanduser(), DATA_ENV)
    directory = keras_cache_dir()
    missing = [name for name in FILES if not (directory / name).is_file()]
    if missing and not download:
        raise DataError(f"{directory / missing[0]}: file not found and downloading is disabled; {_HINT}")
    base = mirror if mirror is not None else MIRROR
    for name in missing:
        _download(base, name, directory / name)
    for name, md5 in FILES.items():
        verify(directory / name, md5)
    return directory


def _verified_user_dir(directory: Path, origin: str) -> Path:
    """Check a user-named directory; never download into it (it may be shared or read-only)."""
    if not directory.is_dir():
        raise DataError(f"{directory} (from {origin}): no such directory; {_HINT}")
    for name, md5 in FILES.items():
        path = directory / name
        if not path.is_file():
            raise DataError(
                f"{path} (from {origin}): file not found; copy the official {name} there, "
                f"or unset {origin} to use or download the Keras cache"
            )
        verify(path, md5)
    return directory


def _download(base: str, name: str, target: Path) -> None:
    """Fetch ``name`` into ``target`` via a temp file, md5-checked, renamed only when whole."""
    url = base.rstrip("/") + "/" + name
    try:
        with atomic_path(target) as tmp:
            h = hashlib.md5(usedforsecurity=False)
            with urllib.request.urlopen(url, timeout=_DOWNLOAD_TIMEOUT_S) as resp, tmp.open("wb") as out:
                while chunk := resp.read(_CHUNK):
                    h.update(chunk)
                    out.write(chunk)
            if h.hexdigest() != FILES[name]:
                raise DataError(f"md5 mismatch: got {h.hexdigest()}, expected {FILES[name]}")
    except (OSError, ValueError, DataError, urllib.error.URLError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise DataError(f"cannot download {name} from {url} ({reason}); {_HINT}") from exc
