"""``cnn-search bench ...``: the benchmarks of this machine (:mod:`search.bench`), under the main command.

The benchmark command has its own parser (``cnn-search bench --help``), so
:func:`search.cli.main` hands it every argument after ``bench`` untouched;
the sub-parser registered here only lists it in ``cnn-search --help``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

NAME = "bench"


def register(sub: Any) -> None:
    sub.add_parser(NAME, add_help=False, help="benchmarks of this machine: throughput per variant, worker "
                   "scaling, seed 003's comparison (see `cnn-search bench --help`)")


def run(argv: Sequence[str]) -> int:
    from ..bench.cli import main

    return main(list(argv), invoked_as=("cnn-search", NAME))
