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

:func:`download` and :func:`file_digest` also serve the other standard sets
(:mod:`search.data.sources.keras_sets`), which are sha256-checked.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path

from search.data.idx import read_idx
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

_digest_memo: dict[tuple[str, int, int, str], str] = {}


def keras_cache_dir() -> Path:
    """The directory Keras itself caches Fashion-MNIST in (honours ``$KERAS_HOME``)."""
    home = os.environ.get("KERAS_HOME")
    base = Path(home).expanduser() if home else Path.home() / ".keras"
    return base / "datasets" / "fashion-mnist"


def file_digest(path: Path, algorithm: str = "md5") -> str:
    """``algorithm`` (a hashlib name) hex digest of ``path``, memoised by (resolved path, size, mtime_ns)."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns, algorithm)
    digest = _digest_memo.get(key)
    if digest is None:
        h = hashlib.new(algorithm, usedforsecurity=False)
        with path.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                h.update(chunk)
        digest = h.hexdigest()
        _digest_memo[key] = digest
    return digest


def file_md5(path: Path) -> str:
    """md5 hex digest of ``path``, memoised by (resolved path, size, mtime_ns)."""
    return file_digest(path, "md5")


def verify(path: Path, expected: str) -> None:
    """Raise :class:`DataError` unless ``path`` has md5 ``expected``.

    A file that is a complete IDX file but not the official one is the
    user's own data in the wrong place, not a broken download, so it gets
    advice about the sources that take one's own images instead.
    """
    got = file_md5(path)
    if got == expected:
        return
    if _is_complete_idx(path):
        raise DataError(
            f"{path}: a complete IDX file but not the official Fashion-MNIST {path.name} (md5 {got}, official "
            f'{expected}); for your own images use [data] source = "npz" or "folder" (or --data)'
        )
    raise DataError(
        f"{path}: md5 mismatch (got {got}, expected {expected}); "
        "the file is truncated or corrupted — delete it and download it again"
    )


def _is_complete_idx(path: Path) -> bool:
    """Whether ``path`` decompresses to an IDX file whose header matches its size (only asked on a mismatch)."""
    try:
        read_idx(path)
    except DataError:
        return False
    return True


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
    download(base.rstrip("/") + "/" + name, target, FILES[name], hint=_HINT)


def download(url: str, target: Path, expected: str, *, algorithm: str = "md5", hint: str) -> None:
    """Fetch ``url`` into ``target`` via a temp file, checked against ``expected``, renamed only when whole.

    Any failure is one :class:`DataError` line naming the file and URL and
    ending with ``hint`` (where to put the file by hand).
    """
    name = url.rstrip("/").rsplit("/", 1)[-1]
    try:
        with atomic_path(target) as tmp:
            h = hashlib.new(algorithm, usedforsecurity=False)
            with urllib.request.urlopen(url, timeout=_DOWNLOAD_TIMEOUT_S) as resp, tmp.open("wb") as out:
                while chunk := resp.read(_CHUNK):
                    h.update(chunk)
                    out.write(chunk)
            if h.hexdigest() != expected:
                raise DataError(f"{algorithm} mismatch: got {h.hexdigest()}, expected {expected}")
    except (OSError, ValueError, DataError, urllib.error.URLError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise DataError(f"cannot download {name} from {url} ({reason}); {hint}") from exc
