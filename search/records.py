"""The trial record both engines write, so later tools read grid and Optuna alike.

Every finished configuration becomes an Optuna trial whose value is the mean
validation accuracy and whose user attributes follow :data:`FIELDS`. A grid
point that was skipped for the budget is a PRUNED trial with ``status``
``over_budget`` and its parameter count.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from optuna.trial import FrozenTrial, TrialState

STATUS_COMPLETE = "complete"
STATUS_PRUNED = "pruned"
STATUS_OVER_BUDGET = "over_budget"
STATUS_INVALID = "invalid"
STATUS_FAILED = "failed"
STATUS_DIVERGED = "diverged"  # pruned because the loss became NaN or infinite
STATUS_INTERRUPTED = "interrupted"  # stopped from outside (Ctrl-C, a dead or hung worker) and re-queued
#: Set on a trial that was stopped from outside before it finished (see ``execution.recovery.fail_and_retry``).
INTERRUPTED_ATTR = "interrupted"
#: Statuses of points that never trained: over the parameter budget, or not a buildable model.
SKIPPED = (STATUS_OVER_BUDGET, STATUS_INVALID)


def trial_status(trial: FrozenTrial) -> str:
    """A trial's status as every report counts it: the one its record gives, once it has finished.

    A failed trial is ``failed`` whatever its record says (it may have failed
    after recording ``complete``), or ``interrupted`` when it was stopped from
    outside (Ctrl-C, SIGTERM, a dead or hung worker) and queued again: nothing
    is known to be wrong with its configuration. A finished one has its
    recorded status (``complete``, ``pruned``, ``diverged``, ``over_budget``,
    ``invalid``), or its state's name without one; an unfinished one is
    ``running`` or ``waiting`` even when a retried run left a status behind.
    """
    if trial.state == TrialState.FAIL:
        return STATUS_INTERRUPTED if trial.user_attrs.get(INTERRUPTED_ATTR) else STATUS_FAILED
    status = trial.user_attrs.get("status")
    if status and trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
        return str(status)
    return trial.state.name.lower()


#: The compute of seed 001's grid as shipped in spaces/seed001-grid.toml, the reference every search's
#: compute is compared with: 24 points x 3 folds x 20 or 30 epochs x 40,000 training images.
SEED001_GRID_IMAGE_EPOCHS = 3 * (12 * 20 + 12 * 30) * 40_000

PROGRESS_ATTR = "progress"  # a running trial's latest epoch: run, epoch, val accuracy, images/s, image_epochs

FIELDS = (
    "engine", "variant", "status", "params", "total_params", "epochs", "batch_size", "n", "seeds", "validation",
    "n_train", "n_val", "val_accuracy", "val_accuracy_std", "val_scores", "val_loss", "val_loss_std",
    "test_accuracy", "test_accuracy_std", "test_loss", "test_loss_std", "training_time_s", "time_per_epoch_s",
    "image_epochs", "kept_epochs", "histories",
)


def summarise_runs(runs: Sequence[dict[str, Any]], validation: str) -> dict[str, Any]:
    """Mean and spread over the repeats/folds of one configuration.

    ``runs`` are ``metrics.json``-shaped dicts (the grid engine builds the same
    shape for its folds) with a ``history`` each. Test figures are present only
    when every run evaluated the test set; ``n_train``/``n_val`` (of the first
    run) are what a corrected resampled t-test needs.
    """
    val = [r["val"]["accuracy"] for r in runs]
    val_loss = [r["val"]["loss"] for r in runs]
    tested = all(r.get("test") for r in runs)
    test = [r["test"]["accuracy"] for r in runs] if tested else []
    test_loss = [r["test"]["loss"] for r in runs] if tested else []
    return {
        "n": len(runs),
        "seeds": [r["seed"] for r in runs],
        "validation": validation,
        "n_train": runs[0]["data"]["n_train"],
        "n_val": runs[0]["data"]["n_val"],
        # what the model actually saw and used, so a study shows it (a bug once trained x / 255 unseen)
        "normalization": (runs[0]["data"].get("normalization") or {}).get("method"),
        "recipe": runs[0].get("recipe"),
        "val_accuracy": _mean(val),
        "val_accuracy_std": _std(val),
        "val_scores": val,
        "val_loss": _mean(val_loss),
        "val_loss_std": _std(val_loss),
        "test_accuracy": _mean(test) if tested else None,
        "test_accuracy_std": _std(test) if tested else None,
        "test_loss": _mean(test_loss) if tested else None,
        "test_loss_std": _std(test_loss) if tested else None,
        "training_time_s": _mean([r["training_time_s"] for r in runs]),
        "time_per_epoch_s": _mean([r["time_per_epoch_s"] for r in runs]),
        "image_epochs": int(sum(r["image_epochs"] for r in runs)),
        "kept_epochs": [r.get("kept_epoch") for r in runs],
        "test_confusion_matrix": runs[0].get("test_confusion_matrix") if tested else None,
        "histories": [r.get("history") or [] for r in runs],
    }


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if len(values) else math.nan


def _std(values: Sequence[float]) -> float:
    """Sample standard deviation (ddof=1); 0 for a single value."""
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def clean(attrs: dict[str, Any]) -> dict[str, Any]:
    """JSON-safe user attributes: NaN becomes None, numpy scalars become numbers."""
    def fix(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: fix(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [fix(v) for v in value]
        if hasattr(value, "item"):
            value = value.item()
        if isinstance(value, float) and not math.isfinite(value):
            return None
        return value

    return {k: fix(v) for k, v in attrs.items()}


def image_epochs_trained(trials: Iterable[FrozenTrial]) -> int:
    """Images x epochs the trials trained so far: finished ones' records, running ones' latest progress."""
    total = 0
    for trial in trials:
        running = trial.state == TrialState.RUNNING
        source = (trial.user_attrs.get(PROGRESS_ATTR) or {}) if running else trial.user_attrs
        total += int(source.get("image_epochs") or 0)
    return total


def describe_compute(image_epochs: int) -> str:
    """``14,500,000 image-epochs (0.20x seed 001's grid)``: a search's compute in the unit budgets use."""
    return f"{image_epochs:,} image-epochs ({image_epochs / SEED001_GRID_IMAGE_EPOCHS:.2g}x seed 001's grid)"


#: The study attribute that says which images the study's trials train on.
DATA_ATTR = "data"


def data_description(dataset: Any) -> dict[str, Any]:
    """What a study records of its dataset (a :class:`~search.data.Dataset`): source, shape and classes."""
    return {"source": dataset.options.source, "path": dataset.options.path, "input_shape": list(dataset.input_shape),
            "class_names": list(dataset.class_names), "n_train": len(dataset.y_train), "n_val": len(dataset.y_val),
            "n_test": len(dataset.y_test)}


def describe_data(record: dict[str, Any] | None) -> str | None:
    """One line for a study's data record: source, image shape and class names (None: not recorded)."""
    if not record:
        return None
    where = f" {record['path']}" if record.get("path") else ""
    shape = "x".join(str(d) for d in record.get("input_shape") or ())
    names = record.get("class_names") or []
    return f"{record.get('source')}{where}: {shape} images, {len(names)} classes ({', '.join(names)})"
