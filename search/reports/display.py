"""The leaderboard as a person reads it: numbers formatted per column, and a table that fits a terminal.

The CSV keeps every column at full precision so that scripts never see its
layout change; what is printed is for reading, so each column gets the
precision that means something (accuracies to 4 decimals, seconds to one,
parameter counts with thousands separators), a spread over one run is shown
as ``-`` (there is none), and in a terminal only the columns a person reads
first are kept, within its width.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

#: The widest table printed, whatever the terminal: wider rows are hard to read even where they fit.
MAX_WIDTH = 120
#: Between two columns of tabulate's "simple" format, and its padding of a header (``tabulate.MIN_PADDING``).
GAP = 2
HEADER_PADDING = 2

INT_COLUMNS = ("rank", "params", "total_params", "epochs", "batch_size", "n", "image_epochs", "n_complete",
               "n_pruned", "n_skipped", "n_failed", "trial")
SPREAD_COLUMNS = {"val_accuracy_std": "val_accuracy_mean", "test_accuracy_std": "test_accuracy_mean"}
SECONDS_COLUMNS = ("train_time_mean_s", "time_per_epoch_s")

#: Which columns a terminal keeps first; searched hyperparameters that differ between rows come after
#: the figures that rank them, then everything else in the board's order.
PRIORITY = ("rank", "variant", "val_accuracy_mean", "val_accuracy_std", "n", "params", "test_accuracy_mean",
            "train_time_mean_s")
LATE = ("test_accuracy_std", "val_loss", "test_loss", "epochs", "batch_size", "p_value", "time_per_epoch_s", "trial",
        "n_complete", "n_pruned", "n_skipped", "n_failed", "total_params", "image_epochs", "p_test")


def display_frame(board: pd.DataFrame) -> pd.DataFrame:
    """The board as strings for a terminal or Markdown: each column in its format, gaps as '-'.

    Columns with no value at all (e.g. test accuracy in a grid study) are left
    out here; the CSV keeps every column so its layout never changes.
    """
    shown = board.dropna(axis=1, how="all")
    single = _single_runs(shown)
    out = pd.DataFrame(index=shown.index)
    for column in shown.columns:
        fmt = _formatter(column)
        cells = [fmt(v) for v in shown[column]]
        if column in SPREAD_COLUMNS:  # one run has no spread: '-' rather than a misleading 0.0000
            cells = ["-" if one else cell for cell, one in zip(cells, single, strict=True)]
        out[column] = cells
    return out


def fit_width(table: pd.DataFrame, width: int, *, first: Sequence[str] = ()) -> tuple[pd.DataFrame, list[str]]:
    """The first columns of ``table`` (strings) by priority that fit ``width`` characters, and those left out.

    Kept columns stay in the board's order; ``first`` (e.g. the column the
    board is sorted by) comes before the usual priorities. Rank and variant
    are always kept, even where they alone are wider. The first column that
    does not fit ends the table, so a spread is never shown without its mean.
    """
    kept: list[str] = []
    used = -GAP
    for column in _by_priority(table, first):
        used += GAP + max([len(column) + HEADER_PADDING, *(len(c) for c in table[column])])
        if used > width and len(kept) >= 2:
            break
        kept.append(column)
    shown = [c for c in table.columns if c in kept]
    return table[shown], [c for c in table.columns if c not in kept]


def left_out_note(left_out: Sequence[str], width: int) -> str:
    """One line saying how many columns were left out, naming as many as fit, and where to find them all."""
    hint = "; --csv FILE or --markdown give them all"
    names: list[str] = []
    room = width - len(hint) - len(f"{len(left_out)} more columns not shown (, ...)")
    for name in left_out:
        room -= len(name) + 2
        if room < 0:
            names.append("...")
            break
        names.append(name)
    listed = f" ({', '.join(names)})" if names and names[0] != "..." else ""
    return f"{len(left_out)} more columns not shown{listed}{hint}"


def terminal_width() -> int:
    """``$COLUMNS`` or the terminal's width, at most :data:`MAX_WIDTH` (also when not a terminal)."""
    return min(shutil.get_terminal_size((MAX_WIDTH, 24)).columns, MAX_WIDTH)


def _by_priority(table: pd.DataFrame, first: Sequence[str]) -> list[str]:
    hp = [c for c in table.columns if c.startswith("hp_")]
    varying = [c for c in hp if table[c].nunique() > 1]
    order = [*PRIORITY[:2], *first, *PRIORITY[2:], *varying, *LATE, *hp, *table.columns]
    return [c for c in dict.fromkeys(order) if c in table.columns]


def _single_runs(board: pd.DataFrame) -> list[bool]:
    if "n" not in board.columns:
        return [False] * len(board)
    return [_missing(n) or int(n) <= 1 for n in board["n"]]


def _formatter(column: str) -> Callable[[Any], str]:
    if column in INT_COLUMNS:
        return _guard(lambda v: v if isinstance(v, str) else f"{int(v):,}")
    if column in SECONDS_COLUMNS:
        return _guard(lambda v: f"{float(v):,.1f}")
    if column == "p_value":
        return _guard(lambda v: "<0.0001" if float(v) < 1e-4 else f"{float(v):.4f}")
    if column == "variant":  # a builder reference: its file's name, not the absolute path the study stores
        return _guard(lambda v: short_variant(str(v)))
    if column.startswith("hp_"):  # learning rates and the like: significant digits, not decimals
        return _guard(lambda v: f"{v:.4g}" if isinstance(v, float) else str(v))
    return _guard(lambda v: f"{v:.4f}" if isinstance(v, float) else str(v))  # accuracies, spreads, losses


def short_variant(name: str) -> str:
    """``/abs/path/models.py:create_model`` -> ``models.py:create_model``; zoo names as they are."""
    where, sep, function = name.rpartition(":")
    path = where.replace("\\", "/")
    return f"{path.rsplit('/', 1)[-1]}:{function}" if sep and "/" in path else name


def _guard(fmt: Callable[[Any], str]) -> Callable[[Any], str]:
    return lambda v: "-" if _missing(v) else fmt(v)


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))
