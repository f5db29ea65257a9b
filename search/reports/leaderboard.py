"""Leaderboards: the comparison tables the seed reports assembled by hand.

One row per configuration (trials with the same parameters, retries
included) or per variant (its best configuration), with mean and spread over
repeats or folds and a paired test against the top row, so a user can see
which differences are noise. Column names are part of the public interface
(see :data:`COLUMNS`); CSV exports keep them stable.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import optuna
import pandas as pd
from optuna.trial import FrozenTrial, TrialState

from .. import records
from ..errors import ConfigError
from .metrics import METRIC_NAMES

#: Leading columns; searched hyperparameters follow ``variant`` as ``hp_<name>``.
COLUMNS = (
    "rank", "status", "variant", "params", "total_params", "epochs", "batch_size", "n", "val_accuracy_mean",
    "val_accuracy_std", "test_accuracy_mean", "test_accuracy_std", "val_loss", "test_loss", "train_time_mean_s",
    "time_per_epoch_s", "image_epochs", "p_value", "p_test", "n_complete", "n_pruned", "n_skipped", "n_failed",
    "trial",
)

#: Counts: whole numbers in the CSV (``3``, not ``3.0``) even where a row has none (an empty cell).
INT_COLUMNS = ("rank", "params", "total_params", "epochs", "batch_size", "n", "image_epochs", "n_complete",
               "n_pruned", "n_skipped", "n_failed", "trial")
#: Spreads over a configuration's runs: missing (an empty CSV cell), not 0, where it had a single run.
SPREAD_COLUMNS = ("val_accuracy_std", "test_accuracy_std")
#: Measurements: floats, missing where a row has none (even where no row has any).
FLOAT_COLUMNS = ("val_accuracy_mean", *SPREAD_COLUMNS, "test_accuracy_mean", "val_loss", "test_loss",
                 "train_time_mean_s", "time_per_epoch_s", "p_value")

#: ``p_test`` values: which test produced ``p_value``.
CORRECTED_T = "corrected resampled t-test (Nadeau-Bengio)"  # k-fold: overlapping training sets
PAIRED_T = "paired t-test over seeds"  # repeats on one split with independent seeds

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
    frame["p_value"], frame["p_test"] = _p_values(frame)
    frame = frame[_ordered_columns(frame)]
    frame = _typed(frame.drop(columns=["_scores", "_seeds", "_design"]))
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
    spread = done and (a.get("n") or 0) > 1  # records store 0 for one run, which would read as "no spread"
    row: dict[str, Any] = {
        "status": records.trial_status(best),
        "variant": a.get("variant") or best.params.get("variant"),
        **{f"hp_{k}": v for k, v in best.params.items() if k != "variant"},
        "params": a.get("params"), "total_params": a.get("total_params"), "epochs": a.get("epochs"),
        "batch_size": a.get("batch_size"),
        "n": a.get("n") if done else None,
        "val_accuracy_mean": a.get("val_accuracy") if done else None,
        "val_accuracy_std": a.get("val_accuracy_std") if spread else None,
        "test_accuracy_mean": a.get("test_accuracy") if done else None,
        "test_accuracy_std": a.get("test_accuracy_std") if spread else None,
        "val_loss": a.get("val_loss") if done else None,
        "test_loss": a.get("test_loss") if done else None,
        "train_time_mean_s": a.get("training_time_s") if done else None,
        "time_per_epoch_s": a.get("time_per_epoch_s") if done else None,
        "image_epochs": sum(int(t.user_attrs.get("image_epochs") or 0) for t in trials),
        **_status_counts(trials),
        "trial": best.number,
        "_scores": a.get("val_scores") if done else None,
        "_seeds": a.get("seeds") if done else None,
        "_design": (a.get("validation"), a.get("n_train"), a.get("n_val")) if done else None,
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
    skipped = sum(records.trial_status(t) in records.SKIPPED for t in trials)
    pruned = sum(t.state == TrialState.PRUNED for t in trials) - skipped
    return {
        "n_complete": sum(t.state == TrialState.COMPLETE for t in trials),
        "n_pruned": pruned,
        "n_skipped": skipped,
        "n_failed": sum(t.state == TrialState.FAIL for t in trials),
    }


def _p_values(frame: pd.DataFrame) -> tuple[list[float], list[str | None]]:
    """Each row's validation scores against the top row's, with the test that fits how they were obtained.

    Folds of one k-fold split share most of their training images, so their
    scores are not independent and a plain paired t-test over them is
    anti-conservative (too many "significant" differences); the corrected
    resampled t-test inflates the variance by the training/validation
    overlap. Repeats with independent seeds on one split are paired by seed.
    """
    top = frame.iloc[0]
    p_values, tests = [math.nan], [None]
    for i in range(1, len(frame)):
        row = frame.iloc[i]
        p, test = _compare(top["_scores"], top["_seeds"], top["_design"], row["_scores"], row["_seeds"],
                           row["_design"])
        p_values.append(p)
        tests.append(test)
    return p_values, tests


def _compare(a: Any, seeds_a: Any, design_a: Any, b: Any, seeds_b: Any, design_b: Any) -> tuple[float, str | None]:
    if not a or not b or len(a) < MIN_REPEATS_FOR_TEST or len(a) != len(b) or design_a != design_b:
        return math.nan, None
    method, n_train, n_val = design_a
    if method == "kfold":  # runs are (repeat, fold) in the same order with the same splits: pair by position
        if list(seeds_a or []) != list(seeds_b or []):
            return math.nan, None
        return corrected_resampled_t(a, b, n_train, n_val), CORRECTED_T
    if seeds_a and seeds_b and len(set(seeds_a)) == len(seeds_a):
        if sorted(seeds_a) != sorted(seeds_b):
            return math.nan, None
        by_seed = dict(zip(seeds_b, b, strict=True))
        b = [by_seed[s] for s in seeds_a]
    return paired_t(a, b), PAIRED_T


def paired_t(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided p of the paired t-test (identical differences: 1 if all zero, else 0)."""
    from scipy import stats  # here, not at the top: scipy.stats takes longer to import than a leaderboard

    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if np.allclose(diff, diff[0]):  # identical spreads: the t statistic is undefined
        return 1.0 if np.allclose(diff, 0) else 0.0
    return float(stats.ttest_rel(a, b).pvalue)


def corrected_resampled_t(a: Sequence[float], b: Sequence[float], n_train: int, n_val: int) -> float:
    """Two-sided p of Nadeau and Bengio's corrected resampled t-test (Machine Learning 52, 2003).

    ``t = mean(d) / sqrt((1/J + n_val/n_train) * var(d))`` over the J paired
    run differences ``d``, with J - 1 degrees of freedom; the ``n_val/n_train``
    term accounts for the runs' overlapping training sets.
    """
    from scipy import stats

    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if np.allclose(diff, diff[0]):
        return 1.0 if np.allclose(diff, 0) else 0.0
    j = len(diff)
    t = diff.mean() / math.sqrt((1.0 / j + n_val / n_train) * diff.var(ddof=1))
    return float(2 * stats.t.sf(abs(t), df=j - 1))


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Counts, and hyperparameters that only take whole numbers, as nullable integers; measurements as floats.

    A column with one missing value would otherwise become float and print
    ``3.0`` in the CSV, which reads as a measurement rather than a count; a
    measurement no row has (a study that never evaluated the test set) would
    be of Python objects.
    """
    whole = [c for c in frame.columns if c in INT_COLUMNS or (c.startswith("hp_") and _whole(frame[c]))]
    measured = [c for c in FLOAT_COLUMNS if c in frame.columns]
    return frame.astype({**{c: "Int64" for c in whole}, **{c: "float64" for c in measured}})


def _whole(values: pd.Series) -> bool:
    present = [v for v in values if not pd.isna(v)]
    return bool(present) and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in present)


def _ordered_columns(frame: pd.DataFrame) -> list[str]:
    hp = [c for c in frame.columns if c.startswith("hp_")]
    lead = ["rank", "status", "variant", *hp]
    return lead + [c for c in COLUMNS if c not in lead and c in frame.columns] + ["_scores", "_seeds", "_design"]
