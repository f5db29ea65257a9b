"""Every image source behind one function: :func:`load_source` returns the same :class:`RawData` for each.

``fashion-mnist`` is :func:`~search.data.cache.load_raw`; ``mnist``,
``cifar10`` and ``cifar100`` are the ``keras.datasets`` files
(:mod:`.keras_sets`); ``npz`` is one file of the user's arrays (:mod:`.npz`);
``folder`` a directory of image files per class (:mod:`.folder`). Each is
decoded once into the memory-mapped cache (``<cache root>/<source>/<content
key>``) and memoised per process by its arguments, as ``load_raw`` is: a file
changed while a process runs is seen by the next process (or after
:func:`~search.data.cache.clear_memo`).
"""

from __future__ import annotations

import os
from pathlib import Path

from search.data.cache import RawData, cache_root, load_raw, memoised
from search.data.settings import COLOR_MODES, PATH_SOURCES, SOURCES
from search.data.sources import folder, keras_sets, npz
from search.data.sources.common import load_cached
from search.errors import DataError

_WITH_PATH = PATH_SOURCES
_PATH_NEEDED = {
    "npz": "the .npz file (keys x_train, y_train, optionally x_test, y_test, class_names)",
    "folder": "the directory with one subfolder of images per class",
}


def load_source(
    source: str = "fashion-mnist",
    path: str | os.PathLike[str] | None = None,
    *,
    image_size: tuple[int, int] | None = None,
    color_mode: str | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
) -> RawData:
    """The decoded arrays of ``source`` (one of :data:`SOURCES`).

    ``path`` is the npz file or image folder (those two sources only);
    ``image_size`` (height, width) and ``color_mode`` ("grayscale", "rgb" or
    None to infer) are for ``folder`` only. ``data_dir`` is where the standard
    sets' files may already be; ``download`` allows fetching them.
    """
    size = _check_arguments(source, path, image_size, color_mode, data_dir)
    if source == "fashion-mnist":
        return load_raw(data_dir, download=download)
    where = Path(path).expanduser().absolute() if path is not None else None
    given = Path(data_dir).expanduser().absolute() if data_dir not in (None, "") else None
    key = (source, where, size, color_mode, given, download, cache_root(), keras_sets.keras_datasets_dir())
    return memoised(key, lambda: _load(source, where, size, color_mode, given, download))


def _load(
    source: str,
    path: Path | None,
    image_size: tuple[int, int] | None,
    color_mode: str | None,
    data_dir: Path | None,
    download: bool,
) -> RawData:
    if source == "npz":
        assert path is not None
        return load_cached(source, npz.content_key(path), path, lambda: npz.decode(path))
    if source == "folder":
        assert path is not None
        listing = folder.scan(path)
        key = folder.content_key(listing, image_size, color_mode)
        return load_cached(source, key, path, lambda: folder.decode(listing, image_size, color_mode))
    file = keras_sets.locate_file(source, data_dir, download_missing=download)
    return load_cached(source, keras_sets.content_key(source), file, lambda: keras_sets.decode(file, source))


def _check_arguments(
    source: str,
    path: str | os.PathLike[str] | None,
    image_size: object,
    color_mode: object,
    data_dir: str | os.PathLike[str] | None,
) -> tuple[int, int] | None:
    """Refuse arguments the source does not take (one line each); return ``image_size`` as a tuple."""
    if source not in SOURCES:
        raise DataError(f"source {source!r} is not one of: {', '.join(SOURCES)}")
    if source in _WITH_PATH and path in (None, ""):
        raise DataError(f"source {source!r} needs path: {_PATH_NEEDED[source]}")
    if source not in _WITH_PATH and path is not None:
        raise DataError(f"path is only for the npz and folder sources; {source!r} is found in data_dir "
                        "or the Keras cache")
    if source in _WITH_PATH and data_dir not in (None, ""):
        raise DataError(f"data_dir is only for the standard sets; source {source!r} reads path ({path})")
    if source != "folder" and (image_size is not None or color_mode is not None):
        name = "image_size" if image_size is not None else "color_mode"
        raise DataError(f"{name} is only for the folder source; {source!r} images keep their stored size and channels")
    if color_mode is not None and color_mode not in COLOR_MODES:
        raise DataError(f"color_mode must be one of: {', '.join(COLOR_MODES)} (or None to infer), "
                        f"got {color_mode!r}")
    if image_size is None:
        return None
    if (not isinstance(image_size, tuple | list) or len(image_size) != 2
            or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in image_size)):
        raise DataError(f"image_size must be two positive integers (height, width), got {image_size!r}")
    return (image_size[0], image_size[1])


__all__ = ["SOURCES", "folder", "keras_sets", "load_source", "npz"]
