"""Benchmarks of this machine: per-variant throughput, worker scaling, seed 003's comparison.

``cnn-search bench BENCHMARK`` (or ``python -m search.bench``) is a thin
layer over these functions; each takes a :class:`BenchSettings` and returns
long-format CSV rows (see :mod:`search.bench.records`), so a user can run and
combine them from Python::

    from search.bench import BenchSettings, append_rows, run_throughput
    rows = run_throughput(BenchSettings.from_options(small=True, variants=("cnn", "m1")))
    append_rows("results/bench/throughput.csv", rows)

What measures the engine itself (overhead against bare Keras, training
options, start-up, search efficiency) is development tooling: it lives in a
checkout's ``benchmarks/``, outside the installed package.

Sub-modules are imported lazily: importing this package does not start the
Keras backend.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "BenchSettings": "settings", "SMALL": "settings", "DEFAULTS": "settings",
    "COLUMNS": "records", "Context": "records", "append_rows": "records", "read_rows": "records",
    "run_throughput": "throughput", "measure_variant": "throughput", "run_workers": "workers",
    "run_comparison": "comparison", "main": "cli", "run": "cli", "Suite": "cli",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'search.bench' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
