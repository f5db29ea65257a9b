"""The PNG figures of a study report, one function per figure.

Every function writes its PNG atomically and returns the written path, or
``None`` when the study has nothing to draw (no complete configuration, no
per-epoch history, ...). Functions that can be skipped for a reason worth
telling the reader take ``notes``, a list they append that reason to.
"""

from __future__ import annotations

import math
import os
import textwrap
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import optuna
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from optuna.trial import TrialState

from ..fileio import atomic_path
from ..training import plots

ACCURACY_VS_TIME = "accuracy_vs_time.png"
ACCURACY_VS_PARAMS = "accuracy_vs_params.png"
LEARNING_CURVES = "learning_curves.png"
OPTIMIZATION_HISTORY = "optimization_history.png"
PARAM_IMPORTANCES = "param_importances.png"
CONFUSION_MATRIX = "confusion_matrix.png"
#: Every file name a report may write (so a re-run can remove the ones it no longer writes).
FIGURES = (ACCURACY_VS_TIME, ACCURACY_VS_PARAMS, LEARNING_CURVES, OPTIMIZATION_HISTORY, PARAM_IMPORTANCES,
           CONFUSION_MATRIX)

_FRONT_COLOUR = "tab:red"
_LOG_SCALE_RATIO = 20  # costs spanning more than this factor get a log axis


def _save(fig: Figure, path: str | os.PathLike[str]) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    return Path(path)


def _note(notes: list[str] | None, text: str) -> None:
    if notes is not None:
        notes.append(text)


# --- accuracy against cost ----------------------------------------------------------------------


def pareto_front(costs: Sequence[float], scores: Sequence[float]) -> list[int]:
    """Indices of the points no other point beats (lower cost, higher score), cheapest first.

    A point is dominated when another costs no more and scores at least as
    well, one of them strictly; of exact duplicates only the first is kept.
    """
    order = sorted(range(len(costs)), key=lambda i: (costs[i], -scores[i], i))
    front: list[int] = []
    best = -math.inf
    for i in order:
        if scores[i] > best:
            front.append(i)
            best = scores[i]
    return front


def _complete_rows(board: pd.DataFrame, cost: str) -> pd.DataFrame:
    needed = ["val_accuracy_mean", cost]
    if board.empty or any(c not in board for c in needed):
        return board.iloc[0:0]
    rows = board.dropna(subset=needed)
    return rows[rows["n_complete"] > 0].reset_index(drop=True)


def accuracy_vs_cost(board: pd.DataFrame, cost: str, xlabel: str, path: str | os.PathLike[str],
                     title: str = "") -> Path | None:
    """Validation accuracy (error bar: std) against ``board[cost]`` with the Pareto front marked."""
    rows = _complete_rows(board, cost)
    if rows.empty:
        return None
    x = rows[cost].astype(float).to_numpy()
    y = rows["val_accuracy_mean"].astype(float).to_numpy()
    err = rows["val_accuracy_std"].astype(float).fillna(0.0).to_numpy()
    fig, ax = plots.subplots(figsize=(6.4, 4.4))
    variants = list(dict.fromkeys(rows["variant"]))
    colours = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, variant in enumerate(variants):
        mask = (rows["variant"] == variant).to_numpy()
        ax.errorbar(x[mask], y[mask], yerr=err[mask], fmt="o", ms=6, capsize=3, alpha=0.8,
                    color=colours[k % len(colours)], label=str(variant) if len(variants) > 1 else "configuration")
    front = pareto_front(list(x), list(y))
    ax.plot(x[front], y[front], "-", color=_FRONT_COLOUR, lw=1.5, zorder=3)
    ax.scatter(x[front], y[front], s=110, facecolors="none", edgecolors=_FRONT_COLOUR, linewidths=1.8, zorder=4,
               label="Pareto front")
    for i in front:
        ax.annotate(f"#{rows.at[i, 'rank']}", (x[i], y[i]), textcoords="offset points", xytext=(6, 6),
                    fontsize=8, color=_FRONT_COLOUR)
    ax.margins(x=0.1, y=0.12)  # room for the rank labels
    if x.min() > 0 and x.max() / x.min() > _LOG_SCALE_RATIO:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("validation accuracy (mean ± std)")
    ax.set_title(title or f"validation accuracy vs {xlabel}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return _save(fig, path)


def accuracy_vs_time(board: pd.DataFrame, path: str | os.PathLike[str]) -> Path | None:
    """Validation accuracy against mean training time per run, complete configurations only."""
    return accuracy_vs_cost(board, "train_time_mean_s", "mean training time per run (s)", path,
                            "validation accuracy vs training time")


def accuracy_vs_params(board: pd.DataFrame, path: str | os.PathLike[str]) -> Path | None:
    """Validation accuracy against trainable parameters, complete configurations only."""
    return accuracy_vs_cost(board, "params", "trainable parameters", path, "validation accuracy vs parameters")


# --- learning curves ----------------------------------------------------------------------------


#: A legend line's characters (about 7 inches at 8 pt: the width of the two panels) and the lines of one entry.
LEGEND_WIDTH = 110
LEGEND_LINES = 2


def learning_curves(curves: Sequence[tuple[str, Sequence[dict[str, Any]]]], path: str | os.PathLike[str],
                    title: str = "") -> Path | None:
    """Validation accuracy (and loss) per epoch, one line per labelled history (see :func:`curves_figure`)."""
    fig = curves_figure(curves, title)
    return None if fig is None else _save(fig, path)


def curves_figure(curves: Sequence[tuple[str, Sequence[dict[str, Any]]]], title: str = "") -> Figure | None:
    """The learning-curve panels with one legend below them, or None when no history has an accuracy.

    The legend is outside the axes (inside them it hid the curves, and long
    labels ran off the figure); each label is wrapped at its spaces onto at
    most :data:`LEGEND_LINES` lines of :data:`LEGEND_WIDTH` characters and cut
    with an ellipsis beyond, and the figure grows by the legend's height.
    GridSearchCV's folds have no per-epoch validation, so a grid study's
    histories are plotted as training accuracy and loss instead.
    """
    frames = [(label, pd.DataFrame(list(h))) for label, h in curves if h]
    split = "val_" if any("val_accuracy" in h for _, h in frames) else ""
    usable = [(legend_label(label), h) for label, h in frames if {"epoch", f"{split}accuracy"} <= set(h.columns)]
    if not usable:
        return None
    kind = "validation" if split else "training"
    with_loss = any(f"{split}loss" in h for _, h in usable)
    legend_lines = sum(label.count("\n") + 1 for label, _ in usable)
    fig = Figure(figsize=(11 if with_loss else 6.4, 4.2 + 0.25 + 0.16 * legend_lines), layout="constrained")
    axes = fig.subplots(1, 2 if with_loss else 1, squeeze=False)
    panels = [(f"{split}accuracy", f"{kind} accuracy"), (f"{split}loss", f"{kind} loss")][: 2 if with_loss else 1]
    for ax, (column, name) in zip(axes[0], panels, strict=True):
        for label, h in usable:
            if column in h:
                ax.plot(h["epoch"], h[column], "o-", ms=4, label=label)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(name)
        ax.set_title(f"{title} {name}".strip())
        ax.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=1, fontsize=8, frameon=False)
    return fig


def legend_label(text: str, width: int = LEGEND_WIDTH, lines: int = LEGEND_LINES) -> str:
    """``text`` wrapped at its spaces onto at most ``lines`` lines of ``width`` characters, ``…`` where cut."""
    return "\n".join(textwrap.wrap(text, width, max_lines=lines, placeholder=" …")) or text


# --- Optuna's own plots -------------------------------------------------------------------------


def _complete(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


def varied_params(study: optuna.Study) -> list[str]:
    """Parameters that take more than one value across the complete trials, in first-seen order."""
    values: dict[str, set[str]] = {}
    for trial in _complete(study):
        for name, value in trial.params.items():
            values.setdefault(name, set()).add(repr(value))
    return [name for name, seen in values.items() if len(seen) > 1]


def _optuna_figure(draw: Any, path: str | os.PathLike[str], what: str, notes: list[str] | None,
                   size: tuple[float, float]) -> Path | None:
    # Optuna's matplotlib plots are experimental, draw through pyplot (with the backend in use: the
    # CLI's is Agg) and switch the global style to ggplot: silence the warning, keep the style change
    # local, and close what they opened, so that a notebook is left as it was.
    import matplotlib.pyplot as plt

    before = set(plt.get_fignums())
    try:
        with warnings.catch_warnings(), matplotlib.rc_context():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            ax = draw()
            fig = ax.figure
            fig.set_size_inches(*size)
            return _save(fig, path)
    except Exception as exc:  # Optuna cannot compute it for this study: say so, keep the report
        _note(notes, f"{what} not drawn: Optuna could not compute it ({type(exc).__name__}: {exc})")
        return None
    finally:
        for number in set(plt.get_fignums()) - before:
            plt.close(number)


def optimization_history(study: optuna.Study, path: str | os.PathLike[str],
                         notes: list[str] | None = None) -> Path | None:
    """Optuna's optimization history: each trial's validation accuracy and the best so far."""
    if not _complete(study):
        _note(notes, "optimization history not drawn: the study has no complete trial")
        return None
    from optuna.visualization.matplotlib import plot_optimization_history

    def draw() -> Any:
        ax = plot_optimization_history(study, target_name="validation accuracy")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        return ax

    return _optuna_figure(draw, path, "optimization history", notes, (7.5, 4.2))


#: Who computes the importances: Optuna's PED-ANOVA evaluator with its default settings, which is what
#: optuna-dashboard (0.15 and later) computes, and Optuna's own default from version 5 (fANOVA before).
IMPORTANCE_EVALUATOR = "PED-ANOVA (optuna.importance.PedAnovaImportanceEvaluator, default settings)"
#: PED-ANOVA's default ``target_quantile``: importance for reaching the top tenth of the trials.
IMPORTANCE_TOP = 0.1


def importance_values(study: optuna.Study) -> dict[str, float]:
    """Each searched hyperparameter's importance for validation accuracy, largest first, summing to 1.

    Computed as optuna-dashboard computes it, so that the report and the
    dashboard rank the same study alike (the report used seeded fANOVA, the
    dashboard PED-ANOVA, and they disagreed): :func:`optuna.importance.get_param_importances`
    with a default :class:`~optuna.importance.PedAnovaImportanceEvaluator`, for
    the study's own direction (the top tenth of validation accuracies; the
    dashboard negates a maximised objective for the same effect), over the
    same parameters, so the values are the dashboard's too. PED-ANOVA is
    deterministic and needs no random forest. Its warnings about few trials
    are silenced: the caption says how many the figure rests on.
    """
    from optuna.importance import PedAnovaImportanceEvaluator, get_param_importances

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        values = get_param_importances(study, evaluator=PedAnovaImportanceEvaluator())
    return {name: float(value) for name, value in values.items()}


def param_importances(study: optuna.Study, path: str | os.PathLike[str],
                      notes: list[str] | None = None) -> Path | None:
    """A bar per searched hyperparameter: its :func:`importance_values`, largest at the top."""
    if len(_complete(study)) < 2:
        _note(notes, "hyperparameter importances not drawn: they need at least 2 complete trials")
        return None
    if not varied_params(study):
        _note(notes, "hyperparameter importances not drawn: no searched parameter took more than one value "
                     "in the complete trials")
        return None
    try:
        values = importance_values(study)
    except Exception as exc:  # Optuna cannot compute it for this study: say so, keep the report
        _note(notes, f"hyperparameter importances not drawn: Optuna could not compute them "
                     f"({type(exc).__name__}: {exc})")
        return None
    names = list(values)[::-1]  # barh draws bottom-up: the largest last, at the top
    fig, ax = plots.subplots(figsize=(6.4, 1.3 + 0.32 * len(names)))
    bars = ax.barh(names, [values[n] for n in names], color="tab:blue")
    ax.bar_label(bars, fmt="%.2f", padding=3, fontsize=8)
    ax.set_xlim(0, max(values.values(), default=0) * 1.15 or 1)
    ax.set_xlabel("importance for validation accuracy (sums to 1)")
    ax.set_title("hyperparameter importances (PED-ANOVA)")
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, path)


# --- best configuration -------------------------------------------------------------------------


def confusion_matrix(cm: Any, class_names: Sequence[str], path: str | os.PathLike[str]) -> Path | None:
    """The test-set confusion matrix of the best configuration (``None`` when there is none)."""
    if cm is None:
        return None
    matrix = np.asarray(cm, dtype=int)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.size == 0:
        return None
    names = list(class_names) if len(class_names) == len(matrix) else [str(i) for i in range(len(matrix))]
    plots.confusion_matrix(matrix, names, path)
    return Path(path)
