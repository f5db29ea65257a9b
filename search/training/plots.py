"""The PNG figures of a training run (what the seed notebooks plotted by hand).

Figures are ``matplotlib.figure.Figure`` objects, not pyplot's: writing a PNG
needs no backend, so importing this module leaves the user's (a notebook's
inline one, say) alone and nothing is left open in pyplot's list of figures.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..fileio import atomic_path


def subplots(nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float], **kwargs: Any) -> tuple[Figure, Any]:
    """``pyplot.subplots`` without pyplot: a figure of its own, drawn by Agg when saved."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, **kwargs)


def _save(fig: Figure, path: str | os.PathLike[str]) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")


def learning_curves(history: pd.DataFrame, path: str | os.PathLike[str], title: str = "") -> None:
    """Loss and accuracy per epoch, training against validation."""
    fig, axes = subplots(1, 2, figsize=(10, 4))
    epochs = history["epoch"]
    for ax, metric in zip(axes, ("loss", "accuracy"), strict=True):
        ax.plot(epochs, history[metric], "o-", label=f"training {metric}")
        if f"val_{metric}" in history:
            ax.plot(epochs, history[f"val_{metric}"], "s-", label=f"validation {metric}")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(metric)
        ax.set_title(f"{title} {metric}".strip())
        ax.grid(alpha=0.3)
        ax.legend()
    _save(fig, path)


def confusion_matrix(cm: np.ndarray, class_names: Sequence[str], path: str | os.PathLike[str]) -> None:
    """Counts with the row-normalised rate as colour, so rare errors stay visible."""
    rates = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    n = len(class_names)
    fig, ax = subplots(figsize=(1.0 + 0.75 * n, 0.8 + 0.7 * n))
    image = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), class_names, rotation=45, ha="right")
    ax.set_yticks(range(n), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(n):
        for j in range(n):
            ax.text(j, i, int(cm[i, j]), ha="center", va="center", fontsize=8,
                    color="white" if rates[i, j] > 0.5 else "black")
    fig.colorbar(image, ax=ax, fraction=0.046, label="fraction of true class")
    ax.set_title("confusion matrix (test set)")
    _save(fig, path)


def _show(ax: Any, image: np.ndarray) -> None:
    """A raw-pixel image (0-255) in grey, or in colour when it has three channels."""
    if image.ndim == 3 and image.shape[-1] == 3:
        ax.imshow(np.clip(image / 255.0, 0.0, 1.0))
    else:
        ax.imshow(image.squeeze(), cmap="gray", vmin=0, vmax=255)


def prediction_examples(images: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray,
                        class_names: Sequence[str], path: str | os.PathLike[str], per_kind: int = 8) -> None:
    """A row of correctly and a row of incorrectly classified test images."""
    correct = np.flatnonzero(y_true == y_pred)[:per_kind]
    wrong = np.flatnonzero(y_true != y_pred)[:per_kind]
    fig, axes = subplots(2, per_kind, figsize=(1.6 * per_kind, 4.2), squeeze=False)
    for row, (label, indices) in enumerate((("correct", correct), ("incorrect", wrong))):
        for col in range(per_kind):
            ax = axes[row][col]
            ax.axis("off")
            if col >= len(indices):
                continue
            i = indices[col]
            _show(ax, images[i])
            colour = "green" if label == "correct" else "red"
            ax.set_title(f"pred {class_names[y_pred[i]]}\ntrue {class_names[y_true[i]]}", fontsize=7,
                         color=colour)
        axes[row][0].text(-0.3, 0.5, label, transform=axes[row][0].transAxes, rotation=90,
                          va="center", ha="right", fontsize=10)
    _save(fig, path)
