"""Leaderboards: the comparison tables the seed reports assembled by hand.

One row per configuration (trials with the same parameters, retries
included) or per variant (its best configuration), with mean and spread over
repeats or folds and a paired test against the top row, so a user can see
which differences are noise. Column names are part of the public interface
(see :data:`COLUMNS`); CSV exports keep them stable.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import optuna
import pandas as pd
from optuna.trial import FrozenTrial, TrialState
from scipy import stats

from ..engines import records
from ..errors import ConfigError
from .metrics import METRIC_NAMES

#: Leading columns; searched hyperparameters follow ``variant`` as ``hp_<name>``.
COLUMNS = (
    "rank", "variant", "params", "epochs", "batch_size", "n", "val_accuracy_mean", "val_accuracy_std",
    "test_accuracy_mean", "test_accuracy_std", "val_loss", "test_loss", "train_time_mean_s", "time_per_epoch_s",
    "p_value", "n_complete", "n_pruned", "n_skipped", "n_failed", "trial",
)

#: ``--metric`` name -> (column, higher is better); keys are METRIC_NAMES
METRICS = {
    "val_accuracy": ("val_accuracy_mean", True),
    "test_accuracy": ("test_accuracy_mean", True),
    "val_loss": ("val_loss", False),
    "test_loss": ("test_loss", False),
    "params": ("params", False),
    "time": ("train_time_mean_s", False),
}
assert tuple(METRICS) == METRIC_NAMES
MIN_REPEATS_FOR_TEST = 3


def leaderboard(study: optuna.Study, *, by: str = "config", metric: str = "val_accuracy",
                top: int | None = None) -> pd.DataFrame:
    """The study's configurations ranked by ``metric`` (``by="variant"``: each variant's best)."""
    if metric not in METRICS:
        raise ConfigError(f"--metric {metric!r} is not known; allowed: {', '.join(METRICS)}")
    if by not in ("config", "variant"):
        raise ConfigError(f"--by {by!r} is not known; allowed: config, variant")
    groups = _group(study.get_trials(deepcopy=False), by)
    column, higher = METRICS[metric]
    rows = [_row(trials, column, higher, by) for trials in groups.values()]
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=list(COLUMNS))
    frame = frame.sort_values(column, ascending=not higher, na_position="last", kind="stable")
    frame = frame.reset_index(drop=True)
    complete = frame["n_complete"] > 0
    frame["rank"] = pd.Series(np.where(complete, np.arange(1, len(frame) + 1), np.nan)).astype("Int64")
    frame["p_value"] = _paired_p_values(frame)
    frame = frame[_ordered_columns(frame)]
    frame = frame.drop(columns=["_scores", "_seeds"])
    return (frame.head(top) if top else frame).reset_index(drop=True)


def _group(trials: Sequence[FrozenTrial], by: str) -> dict[Any, list[FrozenTrial]]:
    groups: dict[Any, list[FrozenTrial]] = {}
    for trial in trials:
        if trial.state in (TrialState.RUNNING, TrialState.WAITING):
            continue
        variant = trial.user_attrs.get("variant") or trial.params.get("variant")
        key = variant if by == "variant" else (variant, tuple(sorted(trial.params.items(), key=str)))
        groups.setdefault(key, []).append(trial)
    return groups


def _row(trials: list[FrozenTrial], column: str, higher: bool, by: str) -> dict[str, Any]:
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    best = _best(complete, column, higher) if complete else trials[-1]
    a = best.user_attrs
    done = best.state == TrialState.COMPLETE
    row: dict[str, Any] = {
        "variant": a.get("variant") or best.params.get("variant"),
        **{f"hp_{k}": v for k, v in best.params.items() if k != "variant"},
        "params": a.get("params"), "epochs": a.get("epochs"), "batch_size": a.get("batch_size"),
        "n": a.get("n") if done else None,
        "val_accuracy_mean": a.get("val_accuracy") if done else None,
        "val_accuracy_std": a.get("val_accuracy_std") if done else None,
        "test_accuracy_mean": a.get("test_accuracy") if done else None,
        "test_accuracy_std": a.get("test_accuracy_std") if done else None,
        "val_loss": a.get("val_loss") if done else None,
        "test_loss": a.get("test_loss") if done else None,
        "train_time_mean_s": a.get("training_time_s") if done else None,
        "time_per_epoch_s": a.get("time_per_epoch_s") if done else None,
        **_status_counts(trials),
        "trial": best.number,
        "_scores": a.get("val_scores") if done else None,
        "_seeds": a.get("seeds") if done else None,
    }
    if by == "variant":
        row = {k: v for k, v in row.items() if not k.startswith("hp_")}
    return row


def _best(trials: list[FrozenTrial], column: str, higher: bool) -> FrozenTrial:
    attr = {"val_accuracy_mean": "val_accuracy", "test_accuracy_mean": "test_accuracy",
            "train_time_mean_s": "training_time_s"}.get(column, column)

    def score(t: FrozenTrial) -> float:
        value = t.user_attrs.get(attr)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return -math.inf
        return value if higher else -value

    return max(trials, key=score)


def _status_counts(trials: list[FrozenTrial]) -> dict[str, int]:
    skipped_status = (records.STATUS_OVER_BUDGET, records.STATUS_INVALID)
    skipped = sum(t.state == TrialState.PRUNED and t.user_attrs.get("status") in skipped_status for t in trials)
    pruned = sum(t.state == TrialState.PRUNED for t in trials) - skipped
    return {
        "n_complete": sum(t.state == TrialState.COMPLETE for t in trials),
        "n_pruned": pruned,
        "n_skipped": skipped,
        "n_failed": sum(t.state == TrialState.FAIL for t in trials),
    }


def _paired_p_values(frame: pd.DataFrame) -> list[float]:
    """Paired t-test of each row's scores against the top row's, paired by seed (or fold)."""
    top_scores, top_seeds = frame.at[0, "_scores"], frame.at[0, "_seeds"]
    out = []
    for i in range(len(frame)):
        scores, seeds = frame.at[i, "_scores"], frame.at[i, "_seeds"]
        out.append(_paired_p(top_scores, top_seeds, scores, seeds) if i else math.nan)
    return out


def _paired_p(a: Any, seeds_a: Any, b: Any, seeds_b: Any) -> float:
    if not a or not b or len(a) < MIN_REPEATS_FOR_TEST or len(a) != len(b):
        return math.nan
    if seeds_a and seeds_b and len(set(seeds_a)) == len(seeds_a):
        if sorted(seeds_a) != sorted(seeds_b):
            return math.nan
        by_seed = dict(zip(seeds_b, b, strict=True))
        b = [by_seed[s] for s in seeds_a]
    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if np.allclose(diff, diff[0]):  # identical spreads: the t statistic is undefined
        return 1.0 if np.allclose(diff, 0) else 0.0
    return float(stats.ttest_rel(a, b).pvalue)


def _ordered_columns(frame: pd.DataFrame) -> list[str]:
    hp = [c for c in frame.columns if c.startswith("hp_")]
    lead = ["rank", "variant", *hp]
    return lead + [c for c in COLUMNS if c not in lead and c in frame.columns] + ["_scores", "_seeds"]


INT_COLUMNS = ("rank", "params", "epochs", "batch_size", "n", "n_complete", "n_pruned", "n_skipped", "n_failed",
               "trial")


def display_frame(board: pd.DataFrame) -> pd.DataFrame:
    """The board as strings for a terminal or Markdown: integers as integers, gaps as '-'.

    Columns with no value at all (e.g. test accuracy in a grid study) are left
    out here; the CSV keeps every column so its layout never changes.
    """
    shown = board.dropna(axis=1, how="all")
    out = pd.DataFrame(index=shown.index)
    for column in shown.columns:
        out[column] = [_cell(v, column in INT_COLUMNS) for v in shown[column]]
    return out


def _cell(value: Any, integer: bool) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "-"
    if integer:
        return f"{int(value):,}" if not isinstance(value, str) else value
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e-3 and value != 0 else f"{value:.4f}"
    return str(value)
