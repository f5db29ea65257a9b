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
    """Stratified k-fold splits of train+validation; the test set is untouched.

    The images stay raw: each run fits its normalisation on its own fold's
    training part, so no statistic ever includes the fold it is scored on.
    """
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
    evaluate_test: bool = True,
) -> list[dict[str, Any]]:
    """Train every (repeat, fold) run; return their metrics, each with its ``history``.

    ``first_run_callbacks`` (the pruner's) watch only the first run: later runs
    of a configuration that survived it are not cut short. ``callbacks`` watch
    every run. Keras state is released between runs; the caller releases it
    after the last (the engines do, once per trial). An exception that stops a
    run carries ``image_epochs``, the training this configuration consumed.
    """
    runs: list[dict[str, Any]] = []
    splits = [dataset] if method == "holdout" else list(fold_datasets(dataset, folds, seed))
    for repeat in range(repeats):
        for data in splits:
            if runs:  # between runs only: the caller releases after the last (a release costs ~0.3 s)
                release_memory()
            config = TrainConfig(variant, hparams, epochs=epochs, batch_size=batch_size, seed=seed + repeat,
                                 data=data.options, fit=fit or FitOptions(), evaluate_test=evaluate_test)
            watchers = [*callbacks, *(first_run_callbacks if not runs else ())]
            try:
                result = train(config, dataset=data, verbose=False, callbacks=watchers)
            except Exception as exc:
                exc.image_epochs = getattr(exc, "image_epochs", 0) + sum(r["image_epochs"] for r in runs)
                raise
            runs.append({**result.metrics, "history": result.history.to_dict(orient="records")})
            del result
    return runs
