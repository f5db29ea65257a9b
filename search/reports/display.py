"""The leaderboard as a person reads it: numbers formatted per column, and a table that fits a terminal.

The CSV keeps every column at full precision so that scripts never see its
layout change; what is printed is for reading, so each column gets the
precision that means something (accuracies to 4 decimals, seconds to one,
parameter counts with thousands separators), a spread over one run is shown
as ``-`` (there is none), and in a terminal only the columns a person reads
first are kept, within its width: what each row is (rank, status, variant,
the hyperparameters that differ between rows) and how well it did, before
the secondary statistics. Headers are the CSV's column names (searched
hyperparameters without their ``hp_`` prefix), split at underscores onto
up to three lines so that a long name costs no more width than its numbers.
"""

from __future__ import annotations

import math
import re
import shutil
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from .leaderboard import INT_COLUMNS

#: The widest table printed, whatever the terminal: wider rows are hard to read even where they fit.
MAX_WIDTH = 120
#: Spaces between two columns, as in tabulate's "simple" format.
GAP = 2
#: A header is split at underscores onto at most this many lines.
HEADER_LINES = 3
HP_PREFIX = "hp_"

SPREAD_COLUMNS = {"val_accuracy_std": "val_accuracy_mean", "test_accuracy_std": "test_accuracy_mean"}
SECONDS_COLUMNS = ("train_time_mean_s", "time_per_epoch_s")

#: Which columns a terminal keeps first: what a row is and how well it did (the column the board is sorted by
#: comes after the first three), then the searched hyperparameters that differ between rows, then the
#: secondary statistics, then everything else in the board's order.
ALWAYS = ("rank", "status", "variant")
PRIORITY = ("val_accuracy_mean", "params")
SECONDARY = ("val_accuracy_std", "n", "test_accuracy_mean", "train_time_mean_s")
LATE = ("test_accuracy_std", "val_loss", "test_loss", "epochs", "batch_size", "p_value", "time_per_epoch_s", "trial",
        "n_complete", "n_pruned", "n_skipped", "n_failed", "total_params", "image_epochs", "p_test")
_NUMBER = re.compile(r"<?-?[\d,]*\.?\d+(e[-+]?\d+)?|-")


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

    Kept columns stay in the board's order, left-out ones are in order of
    priority (the note about them names the most wanted first); ``first`` (e.g. the column the
    board is sorted by) comes right after rank, status and variant, which
    are always kept, even where they alone are wider. The first column that
    does not fit ends the table, so a spread is never shown without its mean.
    """
    names = header_names(table.columns)
    order = _by_priority(table, first)
    kept: list[str] = []
    used = -GAP
    for column in order:
        used += GAP + column_width(names[column], table[column])
        if used > width and len(kept) >= len([c for c in ALWAYS if c in table.columns]):
            break
        kept.append(column)
    shown = [c for c in table.columns if c in kept]
    return table[shown], [c for c in order if c not in kept]


def render(table: pd.DataFrame) -> str:
    """``table`` (strings) as a terminal reads it: headers over dashes, numbers right-aligned.

    Not tabulate's "simple" format, which pads every header by two spaces and
    keeps it on one line: at 80 columns that costs as much as the
    hyperparameters a person looks for.
    """
    names = header_names(table.columns)
    columns = [_column(names[c], [str(v) for v in table[c]]) for c in table.columns]
    depth = max((len(head) for head, _, _ in columns), default=0)
    heads = [[""] * (depth - len(head)) + head for head, _, _ in columns]
    lines = [[h[i] for h in heads] for i in range(depth)]
    lines.append(["-" * width for _, _, (width, _) in columns])
    lines += [list(row) for row in zip(*(cells for _, cells, _ in columns), strict=True)]
    layout = [shape for _, _, shape in columns]
    return "\n".join(_line(cells, layout) for cells in lines)


def header_names(columns: Sequence[str]) -> dict[str, str]:
    """Each column's header: its name, a searched hyperparameter's without ``hp_`` unless that is taken."""
    taken = set(columns)
    names = {}
    for column in columns:
        bare = column[len(HP_PREFIX):] if column.startswith(HP_PREFIX) else column
        names[column] = bare if bare == column or bare not in taken else column
    return names


def header_lines(name: str, cells: Sequence[str]) -> list[str]:
    """``name`` split at underscores onto at most :data:`HEADER_LINES` lines, as narrow as its cells allow.

    No line is narrower than the longest word; the underscores at the breaks
    are dropped (joined with ``_`` the lines give the name back).
    """
    words = name.split("_")
    narrowest = max([len(c) for c in cells] + [len(w) for w in words])
    for width in range(narrowest, len(name) + 1):
        lines = _wrap(words, width)
        if len(lines) <= HEADER_LINES:
            return lines
    return [name]


def column_width(name: str, cells: Sequence[str]) -> int:
    """Characters a column takes: its widest cell or header line."""
    return max(len(line) for line in [*header_lines(name, cells), *cells])


def left_out_note(left_out: Sequence[str], width: int) -> str:
    """How many columns were left out, naming as many as fit ``width``, then where to find them all.

    The names are the headers a person just read, in the order given (of
    priority: the hyperparameters that did not fit before the statistics).
    """
    head = f"{len(left_out)} more columns not shown"
    listed = _listed(list(header_names(left_out).values()), width - len(head) - 2)
    return f"{head}{': ' + listed if listed else ''}\n--csv FILE or --markdown give them all"


def _listed(names: Sequence[str], room: int) -> str:
    """``a, b, ...``: the first names that fit ``room`` characters, with ``...`` where some did not."""
    more = ", ..."
    shown: list[str] = []
    for i, name in enumerate(names):
        text = ", ".join([*shown, name])
        if len(text) + (len(more) if i < len(names) - 1 else 0) > room:
            return ", ".join(shown) + more if shown else ""
        shown.append(name)
    return ", ".join(shown)


def folded_rows(table: pd.DataFrame) -> int:
    """How many rows hold several complete trials of one configuration (a repeated proposal, a rerun)."""
    if "n_complete" not in table.columns:
        return 0
    return sum(_count(v) > 1 for v in table["n_complete"])


def _count(cell: Any) -> int:
    text = str(cell).replace(",", "")
    return int(text) if text.isdigit() else 0


def terminal_width() -> int:
    """``$COLUMNS`` or the terminal's width, at most :data:`MAX_WIDTH` (also when not a terminal)."""
    return min(shutil.get_terminal_size((MAX_WIDTH, 24)).columns, MAX_WIDTH)


def _by_priority(table: pd.DataFrame, first: Sequence[str]) -> list[str]:
    hp = [c for c in table.columns if c.startswith(HP_PREFIX)]
    varying = [c for c in hp if table[c].nunique() > 1]
    repeated = ["n_complete"] if folded_rows(table) else []  # a row that folds trials of one configuration
    order = [*ALWAYS, *first, *PRIORITY, *repeated, *varying, *SECONDARY, *LATE, *hp, *table.columns]
    return [c for c in dict.fromkeys(order) if c in table.columns]


def _wrap(words: Sequence[str], width: int) -> list[str]:
    lines = [words[0]]
    for word in words[1:]:
        if len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += "_" + word
        else:
            lines.append(word)
    return lines


def _column(name: str, cells: list[str]) -> tuple[list[str], list[str], tuple[int, bool]]:
    """A column's header lines, cells, and (width, right-aligned): numbers are, words are not."""
    head = header_lines(name, cells)
    right = bool(cells) and all(_NUMBER.fullmatch(c) for c in cells)
    return head, cells, (column_width(name, cells), right)


def _line(cells: Sequence[str], layout: Sequence[tuple[int, bool]]) -> str:
    padded = [c.rjust(w) if right else c.ljust(w) for c, (w, right) in zip(cells, layout, strict=True)]
    return (" " * GAP).join(padded).rstrip()


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
