"""The short table a benchmark prints; the CSV keeps every figure and its raw runs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tabulate import tabulate

SHOWN = ("what", "variant", "engine", "metric", "value", "unit", "ratio", "baseline")
#: Phase rows below this share of their contender's wall time are left out of the printed table.
MIN_PHASE_SHARE = 0.01


def format_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """The rows worth reading at a glance, as a plain-text table."""
    kept = [r for r in rows if not _minor_phase(r)]
    body = [[_cell(r.get(c)) for c in SHOWN] for r in kept]
    return tabulate(body, headers=list(SHOWN), disable_numparse=True, tablefmt="simple")


def _minor_phase(row: Mapping[str, Any]) -> bool:
    share = row.get("ratio")
    return str(row.get("metric", "")).startswith("phase_") and share is not None and abs(share) < MIN_PHASE_SHARE


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int) or abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.3f}"
    return f"{value:.4f}"
