"""Evaluating one configuration the way the space asks: holdout or k-fold, times repeats.

Both engines and the leaderboard rely on one meaning of "validation accuracy
of a configuration": the mean over every (fold, repeat) run, each run seeded
``seed + repeat`` so repeats can later be paired by seed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from typing import Any

import keras
import numpy as np
from sklearn.model_selection import StratifiedKFold

from ..data import Dataset
from ..training import FitOptions, TrainConfig, release_memory, train


def fold_datasets(dataset: Dataset, folds: int, seed: int) -> Iterator[Dataset]:
    """Stratified k-fold splits of train+validation; the test set is untouched."""
    x, y = dataset.x_trainval, dataset.y_trainval
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train_idx, val_idx in splitter.split(np.zeros((len(y), 1)), y):
        yield dataclasses.replace(dataset, x_train=x[train_idx], y_train=y[train_idx],
                                  x_val=x[val_idx], y_val=y[val_idx])


def evaluate_configuration(
    variant: str,
    hparams: dict[str, Any],
    *,
    epochs: int,
    batch_size: int,
    dataset: Dataset,
    seed: int,
    method: str = "holdout",
    folds: int = 3,
    repeats: int = 1,
    first_run_callbacks: Sequence[keras.callbacks.Callback] = (),
    callbacks: Sequence[keras.callbacks.Callback] = (),
    fit: FitOptions | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, float]]]:
    """Train every (repeat, fold) run; return their metrics and the first run's history.

    ``first_run_callbacks`` (the pruner's) watch only the first run: later runs
    of a configuration that survived it are not cut short. ``callbacks`` watch
    every run. Keras state is released between runs; the caller releases it
    after the last (the engines do, once per trial).
    """
    runs: list[dict[str, Any]] = []
    history: list[dict[str, float]] = []
    splits = [dataset] if method == "holdout" else list(fold_datasets(dataset, folds, seed))
    for repeat in range(repeats):
        for data in splits:
            if runs:  # between runs only: the caller releases after the last (a release costs ~0.3 s)
                release_memory()
            config = TrainConfig(variant, hparams, epochs=epochs, batch_size=batch_size, seed=seed + repeat,
                                 fit=fit or FitOptions())
            watchers = [*callbacks, *(first_run_callbacks if not runs else ())]
            result = train(config, dataset=data, verbose=False, callbacks=watchers)
            runs.append(result.metrics)
            if not history:
                history = result.history.to_dict(orient="records")
            del result
    return runs, history
