"""The real Fashion-MNIST arrays a benchmark times on, loaded once per process.

Benchmarks never substitute random arrays: data-dependent costs (shuffling,
class balance in stratified splits, the test-set size) must be the ones a
user pays. Loading goes through :func:`search.data.load_dataset`, which
memoises the decoded files, so each further call only rebuilds the splits.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from ..data import DataOptions, Dataset, load_dataset, locate
from .settings import BenchSettings


def check_data(settings: BenchSettings) -> Path:
    """The verified data directory, or a one-line :class:`~search.errors.DataError` before any timing."""
    return locate(settings.data_dir, download=settings.data_dir is None)


def bench_dataset(settings: BenchSettings, num_classes: int = 10) -> Dataset:
    """The subset the settings name, scaled to [0, 1], split 80/20 and seeded like a search."""
    return _load(settings.data_dir, settings.subset, settings.test_subset, settings.seed, num_classes)


@lru_cache(maxsize=4)
def _load(data_dir: Path | None, subset: int | None, test_subset: int | None, seed: int,
          num_classes: int) -> Dataset:
    options = DataOptions(subset=subset, test_subset=test_subset, seed=seed, num_classes=num_classes)
    return load_dataset(options, data_dir=data_dir)
