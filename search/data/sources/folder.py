"""A directory of image files, one subfolder per class, as Keras's ``image_dataset_from_directory`` reads it.

Layout: ``<root>/<class>/...`` (class names = the sorted subfolder names;
images may sit in nested folders below a class), or ``<root>/train/<class>/``
plus ``<root>/test/<class>/`` with the same classes for a given test set.
Without ``train/`` and ``test/`` a stratified test split is carved once with a
fixed seed (see :func:`~search.data.sources.common.carve_test_split`).
Image files are recognised by extension (:data:`IMAGE_EXTENSIONS`, any case);
other files, names starting with ``.`` and linked folders are ignored.

Pillow decodes them, so it is imported only here and only on a cache miss.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from search.data.sources.common import Decoded, one_line, split_arrays
from search.errors import DataError

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif"})
_SUFFIXES = tuple(IMAGE_EXTENSIONS)

#: Pillow modes that count as grayscale when ``color_mode`` is None.
GRAY_MODES = frozenset({"L", "LA", "1", "I", "I;16"})

_LAYOUT = "one subfolder of images per class (or train/ and test/ each holding them)"
_NO_TEST_HINT = "or give train/ and test/ subfolders"
# Pillow decodes and resizes without the GIL, but opening a file and building its array hold it: for
# files averaging under _PARALLEL_BYTES a thread pool was no faster (60,000 28x28 PNGs: 3.0-3.2 s serial,
# 3.1-3.7 s on 2 threads), for 192x192 PNG/JPEG files it was 16% faster on 2 cores, and more cores add more.
_PARALLEL_BYTES = 4096
_CHUNK = 64  # images per task: one task per image would cost more than it saves


@dataclass(frozen=True)
class Listing:
    """The image files of a folder source: per split, (path relative to the root, label) in decode order."""

    root: Path
    class_names: tuple[str, ...]
    files: dict[str, list[tuple[str, int]]]  # "train" and "test", or "all"
    stats: tuple[str, ...]  # "relpath<TAB>size<TAB>mtime_ns" per file, sorted: what the content key hashes


def scan(root: Path) -> Listing:
    """List the class folders and their image files, refusing layouts that cannot be a dataset."""
    if not root.exists():
        raise DataError(f"{root}: no such directory; the folder source needs {_LAYOUT}")
    if not root.is_dir():
        raise DataError(f"{root}: not a directory; the folder source needs {_LAYOUT}")
    halves = [s for s in ("train", "test") if (root / s).is_dir()]
    if len(halves) == 1:
        other = "test" if halves == ["train"] else "train"
        raise DataError(f"{root}: has {halves[0]}/ but no {other}/; give both (with the same class subfolders) "
                        "or put the class subfolders directly in it")
    splits = {s: _classes(root / s) for s in halves} or {"all": _classes(root)}
    if len(splits) == 2 and splits["train"] != splits["test"]:
        only_train = sorted(set(splits["train"]) - set(splits["test"]))
        only_test = sorted(set(splits["test"]) - set(splits["train"]))
        raise DataError(f"{root}: train/ and test/ have different class subfolders (only in train/: "
                        f"{', '.join(only_train) or 'none'}; only in test/: {', '.join(only_test) or 'none'})")
    class_names = next(iter(splits.values()))
    files: dict[str, list[tuple[str, int]]] = {}
    stats: list[str] = []
    for split, names in splits.items():
        base = root if split == "all" else root / split
        files[split] = []
        for label, name in enumerate(names):
            found = sorted(_images(base / name, (base.relative_to(root) / name).as_posix()))
            if not found:
                kinds = ", ".join(sorted(IMAGE_EXTENSIONS))
                raise DataError(f"{base / name}: no images ({kinds}) in this class folder")
            files[split] += [(rel, label) for rel, _ in found]
            stats += [f"{rel}\t{stat}" for rel, stat in found]
    return Listing(root, class_names, files, tuple(sorted(stats)))


def _classes(directory: Path) -> tuple[str, ...]:
    names = tuple(sorted(e.name for e in os.scandir(directory) if e.is_dir() and not e.name.startswith(".")))
    if not names:
        raise DataError(f"{directory}: no class subfolders; the folder source needs {_LAYOUT}")
    if len(names) == 1:
        raise DataError(f"{directory}: only one class subfolder ({names[0]}); at least two classes are needed")
    return names


def _images(directory: str | Path, rel: str) -> Iterator[tuple[str, str]]:
    """(relative path, "size<TAB>mtime_ns") of every image file below ``directory``, in no particular order.

    Plain strings, not Paths: this runs on every load (it is what the content
    key hashes), and for 60,000 files Path joins alone took ~0.5 s.
    """
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):  # as Keras's follow_links=False: no link loops
                yield from _images(entry.path, f"{rel}/{entry.name}")
            elif entry.name.lower().endswith(_SUFFIXES) and entry.is_file():
                st = entry.stat()
                yield f"{rel}/{entry.name}", f"{st.st_size}\t{st.st_mtime_ns}"


def content_key(listing: Listing, image_size: tuple[int, int] | None, color_mode: str | None) -> str:
    """sha256 hex over the sorted (relative path, size, mtime_ns) listing, ``image_size`` and ``color_mode``."""
    h = hashlib.sha256()
    for line in listing.stats:
        h.update(line.encode() + b"\n")
    h.update(f"image_size={list(image_size) if image_size else None}\ncolor_mode={color_mode}\n".encode())
    return h.hexdigest()


def decode(listing: Listing, image_size: tuple[int, int] | None, color_mode: str | None) -> Decoded:
    """Decode every image (larger files on a thread pool), agree on one size and channels, split train/test."""
    rels = [rel for split in listing.files.values() for rel, _ in split]
    mean_bytes = sum(int(line.split("\t")[1]) for line in listing.stats) / len(listing.stats)
    paths = [str(listing.root / rel) for rel in rels]
    images = _decode_all(paths, color_mode, image_size, parallel=mean_bytes >= _PARALLEL_BYTES)
    if image_size is None:
        _same_size(listing.root, rels, images)
    rgb = color_mode == "rgb" or (color_mode is None and any(a.ndim == 3 for a in images))
    x = np.stack([_channels(a, rgb) for a in images])
    labels = np.array([label for split in listing.files.values() for _, label in split], dtype=np.int64)
    info: dict[str, Any] = {"color_mode": "rgb" if rgb else "grayscale",
                            "image_size": list(image_size) if image_size else None}
    if "all" in listing.files:
        decoded = split_arrays(x, labels, listing.class_names, where=listing.root, hint=_NO_TEST_HINT)
        decoded.info.update(info)
        return decoded
    n = len(listing.files["train"])
    arrays = {"x_train": x[:n], "y_train": labels[:n], "x_test": x[n:], "y_test": labels[n:]}
    return Decoded(arrays, listing.class_names, info)


def _decode_all(
    paths: list[str], color_mode: str | None, size: tuple[int, int] | None, *, parallel: bool
) -> list[np.ndarray]:
    """Each file as a uint8 (H, W) or (H, W, 3) array, decoded on a thread pool if ``parallel``."""
    mode = {"grayscale": "L", "rgb": "RGB", None: None}[color_mode]
    chunks = [paths[i : i + _CHUNK] for i in range(0, len(paths), _CHUNK)]
    workers = min(8, os.cpu_count() or 1, len(chunks)) if parallel else 1
    if workers <= 1:
        return [_read(p, mode, size) for p in paths]
    with ThreadPoolExecutor(workers) as pool:
        return [a for chunk in pool.map(lambda c: [_read(p, mode, size) for p in c], chunks) for a in chunk]


def _read(path: str, mode: str | None, size: tuple[int, int] | None) -> np.ndarray:
    """One image in ``mode`` ("L", "RGB", or None: "L" for a grayscale file, else "RGB"), resized to ``size``."""
    from PIL import Image

    try:
        with Image.open(path) as img:  # a GIF opens on its first frame
            target = mode or ("L" if img.mode in GRAY_MODES else "RGB")
            img.load()
            out = img if img.mode == target else img.convert(target)
            if size is not None and out.size != (size[1], size[0]):
                out = out.resize((size[1], size[0]), Image.Resampling.BILINEAR)
            return np.asarray(out, dtype=np.uint8)
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        raise DataError(f"{path}: cannot decode this image ({one_line(exc)}); fix or remove it") from exc


def _same_size(root: Path, rels: list[str], images: list[np.ndarray]) -> None:
    first = images[0].shape[:2]
    for rel, a in zip(rels, images, strict=True):
        if a.shape[:2] != first:
            raise DataError(f"{root / rels[0]} is {first[0]}x{first[1]} but {root / rel} is "
                            f"{a.shape[0]}x{a.shape[1]} (height x width); pass image_size=(H, W) to resize every image")


def _channels(a: np.ndarray, rgb: bool) -> np.ndarray:
    """(H, W, 1) for grayscale, (H, W, 3) for colour: a grayscale image among colour ones is repeated to 3."""
    if a.ndim == 3:
        return a
    return np.repeat(a[..., np.newaxis], 3, axis=-1) if rgb else a[..., np.newaxis]
