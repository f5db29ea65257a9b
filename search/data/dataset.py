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
from dataclasses import dataclass
from typing import Any

import numpy as np

from search.data.cache import RawData, load_raw
from search.data.normalization import NORMALIZATIONS
from search.errors import ConfigError

CLASS_NAMES = (  # fmt: skip
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

#: Fewest training images per class a ``subset`` may leave (so a stratified
#: validation split still has every class in it).
MIN_PER_CLASS = 10
_TEST_SUBSET_SEED = 0  # fixed: the test set must not depend on options.seed


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


@dataclass(frozen=True)
class DataOptions:
    """How to build a :class:`Dataset`; invalid values raise :class:`ConfigError` at construction."""

    subset: int | None = None
    normalize: str = "scale"
    val_fraction: float = 0.2
    seed: int = 0
    num_classes: int = 10
    test_subset: int | None = None

    def __post_init__(self) -> None:
        if not _is_int(self.num_classes) or not 2 <= self.num_classes <= len(CLASS_NAMES):
            raise ConfigError(f"num_classes must be an integer from 2 to 10, got {self.num_classes!r}")
        minimum = MIN_PER_CLASS * self.num_classes
        if self.subset is not None and (not _is_int(self.subset) or self.subset < minimum):
            raise ConfigError(
                f"subset must be an integer >= {minimum} ({MIN_PER_CLASS} per class for "
                f"num_classes={self.num_classes}) or None for all, got {self.subset!r}"
            )
        if self.test_subset is not None and (not _is_int(self.test_subset) or self.test_subset < self.num_classes):
            raise ConfigError(
                f"test_subset must be an integer >= {self.num_classes} (one per class) "
                f"or None for all, got {self.test_subset!r}"
            )
        if self.normalize not in NORMALIZATIONS:
            raise ConfigError(f"normalize must be one of {', '.join(NORMALIZATIONS)}, got {self.normalize!r}")
        if (
            not isinstance(self.val_fraction, (int, float))
            or isinstance(self.val_fraction, bool)
            or not 0 < self.val_fraction < 1
        ):
            raise ConfigError(f"val_fraction must be a number strictly between 0 and 1, got {self.val_fraction!r}")
        if not _is_int(self.seed) or not 0 <= self.seed < 2**32:
            raise ConfigError(f"seed must be an integer from 0 to 2**32-1, got {self.seed!r}")


@dataclass
class Dataset:
    """Raw float32 pixel values (0-255) shaped (N, 28, 28, 1) and int64 labels for train/val/test.

    ``options.normalize`` says how a model trained on it normalises its inputs.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    options: DataOptions

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
    k = options.num_classes
    train_idx = np.flatnonzero(raw.y_train < k)
    test_idx = np.flatnonzero(raw.y_test < k)
    if options.subset is not None:
        if options.subset > len(train_idx):
            raise ConfigError(
                f"subset must be at most {len(train_idx)} (training images in {k} classes), got {options.subset}"
            )
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
        class_names=CLASS_NAMES[:k],
        options=options,
    )


def _to_float(x: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Gather ``x[idx]`` as float32 pixel values (0-255) with a trailing channel axis."""
    return x[idx].astype(np.float32)[..., np.newaxis]


def load_dataset(
    options: DataOptions | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
) -> Dataset:
    """``prepare(load_raw(data_dir), options)`` with default options when none are given."""
    return prepare(load_raw(data_dir, download=download), options or DataOptions())
