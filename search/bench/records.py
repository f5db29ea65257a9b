"""Benchmark results as long-format CSV rows: one row per figure.

One row per figure (rather than one wide row per run) lets results from
different benchmarks, machines and versions be concatenated and filtered
with any CSV tool, and each row carries what produced it (device, backend,
package versions, the exact command, sizes), because a timing without its
context cannot be compared with anything.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..fileio import write_text

#: The columns every benchmark CSV has, in this order. ``ratio`` is ``value`` divided by the
#: value of the row named in ``baseline`` (same benchmark, same run); ``detail`` is JSON with the
#: raw per-run values and anything else needed to interpret the figure.
COLUMNS = (
    "what", "variant", "engine", "metric", "value", "unit", "ratio", "baseline", "device", "backend",
    "versions", "code", "command", "seed", "subset", "epochs", "batch_size", "repeats", "created_at", "detail",
)


@dataclass(frozen=True)
class Context:
    """What produced a set of rows: the machine, the libraries and the command line."""

    command: str
    device: str
    backend: str
    versions: str
    created_at: str
    code: str = ""  # the git commit of this checkout (+ "-dirty"), so before/after rows can be told apart

    @classmethod
    def capture(cls, command: str) -> Context:
        """The context of this process; imports Keras (quietly) to name the backend and device."""
        from ..runtime import device_description, import_backend_quietly, package_versions

        import_backend_quietly()
        import keras

        return cls(command=command, device=device_description(), backend=keras.backend.backend(),
                   versions=json.dumps(package_versions(), sort_keys=True),
                   created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), code=code_version())


@dataclass
class Recorder:
    """Collects the rows of one benchmark; sizes given here are repeated in each row unless overridden."""

    context: Context
    what: str
    sizes: dict[str, Any] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(self, metric: str, value: float | int | None, unit: str, *, variant: str | None = None,
            engine: str | None = None, ratio: float | None = None, baseline: str | None = None,
            detail: Mapping[str, Any] | None = None, **sizes: Any) -> dict[str, Any]:
        """Append one figure; ``sizes`` (seed, subset, epochs, batch_size, repeats) override the defaults."""
        c = self.context
        merged = {**self.sizes, **sizes}
        row = {
            "what": self.what, "variant": variant, "engine": engine, "metric": metric, "value": _number(value),
            "unit": unit, "ratio": _number(ratio), "baseline": baseline, "device": c.device, "backend": c.backend,
            "versions": c.versions, "code": c.code, "command": c.command,
            **{k: merged.get(k) for k in ("seed", "subset", "epochs", "batch_size", "repeats")},
            "created_at": c.created_at,
            "detail": json.dumps(dict(detail), sort_keys=True, default=_json_default) if detail else None,
        }
        self.rows.append(row)
        return row


def code_version() -> str:
    """``git describe``-like id of the code being measured; empty outside a git checkout."""
    import subprocess

    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""
    return commit + ("-dirty" if dirty else "")


def ratio(value: float | None, baseline: float | None) -> float | None:
    """``value / baseline``, or None when either is missing or the baseline is zero."""
    if value is None or baseline is None or baseline == 0 or not math.isfinite(baseline):
        return None
    return value / baseline


def read_rows(path: str | Path) -> list[dict[str, str]]:
    """The rows of a benchmark CSV (empty if the file does not exist yet)."""
    path = Path(path)
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def append_rows(path: str | Path, rows: Sequence[Mapping[str, Any]]) -> Path:
    """Add ``rows`` after the existing ones and replace the file atomically.

    Read-then-rewrite (instead of opening in append mode) keeps one header
    even if a later version adds a column, and an interrupted write never
    leaves half a row: the old file stays until the new one is complete.
    """
    path = Path(path)
    existing = read_rows(path)
    columns = list(COLUMNS) + [c for c in _columns(existing) if c not in COLUMNS]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in [*existing, *rows]:
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in columns})
    write_text(path, buffer.getvalue())
    return path


def _columns(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)


def _number(value: Any) -> Any:
    if value is None:
        return None
    if hasattr(value, "item"):  # numpy scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "item"):
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    return str(obj)
