"""The trial record both engines write, so later tools read grid and Optuna alike.

Every finished configuration becomes an Optuna trial whose value is the mean
validation accuracy and whose user attributes follow :data:`FIELDS`. A grid
point that was skipped for the budget is a PRUNED trial with ``status``
``over_budget`` and its parameter count.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

STATUS_COMPLETE = "complete"
STATUS_PRUNED = "pruned"
STATUS_OVER_BUDGET = "over_budget"
STATUS_INVALID = "invalid"
STATUS_FAILED = "failed"
STATUS_DIVERGED = "diverged"  # pruned because the loss became NaN or infinite

FIELDS = (
    "engine", "variant", "status", "params", "epochs", "batch_size", "n", "seeds", "val_accuracy",
    "val_accuracy_std", "val_scores", "val_loss", "test_accuracy", "test_accuracy_std", "test_loss",
    "training_time_s", "time_per_epoch_s", "history",
)


def summarise_runs(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Mean and spread over repeats/folds of per-run metrics (``metrics.json`` shaped dicts)."""
    val = [r["val"]["accuracy"] for r in runs]
    test = [r["test"]["accuracy"] for r in runs if r.get("test")]
    return {
        "n": len(runs),
        "seeds": [r["seed"] for r in runs],
        "val_accuracy": _mean(val),
        "val_accuracy_std": _std(val),
        "val_scores": val,
        "val_loss": _mean([r["val"]["loss"] for r in runs]),
        "test_accuracy": _mean(test) if test else None,
        "test_accuracy_std": _std(test) if test else None,
        "test_loss": _mean([r["test"]["loss"] for r in runs if r.get("test")]) if test else None,
        "training_time_s": _mean([r["training_time_s"] for r in runs]),
        "time_per_epoch_s": _mean([r["time_per_epoch_s"] for r in runs]),
        "test_confusion_matrix": runs[0].get("test_confusion_matrix") if test else None,
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
