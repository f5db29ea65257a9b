"""Benchmarks of cnn-search itself: engine overhead, model throughput, search efficiency, start-up.

``python -m search.bench BENCHMARK`` is a thin layer over these functions;
each takes a :class:`BenchSettings` and returns long-format CSV rows (see
:mod:`search.bench.records`), so a user can run and combine them from Python::

    from search.bench import BenchSettings, append_rows, run_overhead
    rows = run_overhead(BenchSettings.from_options(small=True))
    append_rows("results/bench/overhead.csv", rows)

Sub-modules are imported lazily: importing this package does not start the
Keras backend (the start-up benchmark depends on that).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "BenchSettings": "settings", "SMALL": "settings", "DEFAULTS": "settings",
    "COLUMNS": "records", "Context": "records", "append_rows": "records", "read_rows": "records",
    "run_overhead": "overhead", "run_throughput": "throughput", "measure_variant": "throughput",
    "run_efficiency": "efficiency", "trial_epochs": "efficiency", "run_startup": "startup",
    "main": "cli", "run": "cli",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'search.bench' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
