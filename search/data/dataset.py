"""Turn the raw arrays into splits: class filter, subsets, stratified train/validation split.

Images stay raw pixel values (0-255, as float32): normalisation is fitted on
each run's training images and applied inside the model (see
:mod:`search.data.normalization`). The test set is only ever filtered and (for
quick tests) subset with a fixed seed; it is never used to fit normalization
statistics, to pick the validation split or for training, and it does not
change with ``seed``, ``subset`` or ``val_fraction``, so every run is scored on
the same images.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from search.data.cache import RawData
from search.data.settings import MIN_PER_CLASS, STANDARD_SHAPES, DataOptions, DataSettings
from search.data.sources import load_source
from search.errors import ConfigError

_TEST_SUBSET_SEED = 0  # fixed: the test set must not depend on options.seed


@dataclass
class Dataset:
    """Raw float32 pixel values (0-255) shaped (N, H, W, C) and int64 labels for train/val/test.

    ``options.normalize`` says how a model trained on it normalises its inputs;
    ``source`` is what runs record of where the images came from.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    options: DataOptions
    source: Mapping[str, Any] = field(default_factory=dict)

    @property
    def x_trainval(self) -> np.ndarray:
        """Train + validation images, for k-fold cross-validation (never the test set)."""
        return np.concatenate([self.x_train, self.x_val])

    @property
    def y_trainval(self) -> np.ndarray:
        """Labels matching :attr:`x_trainval`."""
        return np.concatenate([self.y_train, self.y_val])

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """Shape of one image as a Keras ``Input`` expects it."""
        return tuple(int(d) for d in self.x_train.shape[1:])  # type: ignore[return-value]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def stratified_indices(y: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Sorted indices of ``n`` items of ``y`` with class proportions kept (largest remainder).

    Written out rather than via ``train_test_split(train_size=n)`` because that
    refuses n close to len(y) and this must work for any 1 <= n <= len(y).
    """
    classes, counts = np.unique(y, return_counts=True)
    exact = counts * (n / len(y))
    quota = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - quota), kind="stable")
    quota[order[: n - int(quota.sum())]] += 1
    rng = np.random.default_rng(seed)
    chosen = [
        rng.choice(np.flatnonzero(y == c), size=int(q), replace=False) for c, q in zip(classes, quota, strict=True)
    ]
    return np.sort(np.concatenate(chosen))


def prepare(raw: RawData, options: DataOptions) -> Dataset:
    """Filter classes, subset and split train/val (stratified, seeded)."""
    k = _classes(raw, options)
    train_idx = np.flatnonzero(raw.y_train < k)
    test_idx = np.flatnonzero(raw.y_test < k)
    if options.subset is not None:
        if options.subset > len(train_idx):
            raise ConfigError(
                f"subset must be at most {len(train_idx)} (training images in {k} classes), got {options.subset}"
            )
        if options.subset < MIN_PER_CLASS * k:
            raise ConfigError(f"subset must be at least {MIN_PER_CLASS * k} ({MIN_PER_CLASS} per class for {k} "
                              f"classes), got {options.subset}")
        train_idx = train_idx[stratified_indices(raw.y_train[train_idx], options.subset, options.seed)]
    if options.test_subset is not None:
        if options.test_subset > len(test_idx):
            raise ConfigError(
                f"test_subset must be at most {len(test_idx)} (test images in {k} classes), got {options.test_subset}"
            )
        test_idx = test_idx[stratified_indices(raw.y_test[test_idx], options.test_subset, _TEST_SUBSET_SEED)]

    n = len(train_idx)
    n_val = math.ceil(n * options.val_fraction)  # what train_test_split does with a float
    if n_val < k or n - n_val < k:
        raise ConfigError(
            f"val_fraction={options.val_fraction} of {n} images leaves {n_val} for validation and "
            f"{n - n_val} for training; each needs at least one image per class ({k})"
        )
    from sklearn.model_selection import train_test_split  # lazy: keeps `import search.data` fast

    fit_idx, val_idx = train_test_split(
        train_idx,
        test_size=options.val_fraction,
        stratify=raw.y_train[train_idx],
        random_state=options.seed,
    )

    x_fit, x_val, x_test = (
        _to_float(raw.x_train, fit_idx),
        _to_float(raw.x_train, val_idx),
        _to_float(raw.x_test, test_idx),
    )
    return Dataset(
        x_train=x_fit,
        y_train=raw.y_train[fit_idx].astype(np.int64),
        x_val=x_val,
        y_val=raw.y_train[val_idx].astype(np.int64),
        x_test=x_test,
        y_test=raw.y_test[test_idx].astype(np.int64),
        class_names=tuple(raw.class_names[:k]),
        options=options,
        source=dict(raw.info),
    )


def _classes(raw: RawData, options: DataOptions) -> int:
    """How many classes a run keeps: ``num_classes`` (seed 004's first five), else every class of the source."""
    available = len(raw.class_names)
    if options.num_classes is None:
        return available
    if options.num_classes > available:
        raise ConfigError(f"num_classes must be at most {available} (the classes of {options.source}), "
                          f"got {options.num_classes}")
    return options.num_classes


def _to_float(x: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Gather ``x[idx]`` as float32 pixel values (0-255) with a trailing channel axis."""
    images = x[idx].astype(np.float32)
    return images[..., np.newaxis] if images.ndim == 3 else images


def load_dataset(
    options: DataOptions | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
) -> Dataset:
    """The images ``options`` name (Fashion-MNIST by default), decoded once per process, then prepared."""
    return prepare(load_options_source(options or DataOptions(), data_dir, download=download), options or DataOptions())


def load_options_source(options: DataSettings, data_dir: str | os.PathLike[str] | None = None, *,
                        download: bool = True) -> RawData:
    """The raw arrays of the source ``options`` name (memoised in the process, cached on disk)."""
    return load_source(options.source, options.path, image_size=options.image_size, color_mode=options.color_mode,
                       data_dir=data_dir, download=download)


def data_shape(options: DataOptions, data_dir: str | os.PathLike[str] | None = None) -> tuple[tuple[int, ...], int]:
    """One image's (height, width, channels) and the classes a run of ``options`` keeps, without splitting.

    A standard dataset's are known without reading it (so checking a space or
    a best.json needs neither its files nor a download); npz and folder
    sources are read, which also caches them for the run that follows.
    """
    if options.source in STANDARD_SHAPES:
        shape, classes = STANDARD_SHAPES[options.source]
        return shape, min(options.num_classes or classes, classes)
    raw = load_options_source(options, data_dir)
    shape = tuple(int(d) for d in raw.x_train.shape[1:])
    return (shape if len(shape) == 3 else (*shape, 1)), _classes(raw, options)
