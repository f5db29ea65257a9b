"""The harness's command line: ``cnn-search bench``'s, with the harness's benchmarks and options.

``python -m benchmarks BENCHMARK|all`` and each benchmark's own
``python -m benchmarks.NAME`` (or ``python benchmarks/NAME.py``) end here;
parsing, checks, CSV rows and ``all``'s fresh interpreters are
:mod:`search.bench.cli`'s, run with the :data:`DEV` suite.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path

from benchmarks.settings import DevSettings
from search.bench import arguments as types
from search.bench.arguments import preset_help
from search.bench.cli import Benchmark, Suite, check_variants
from search.bench.cli import main as _main
from search.bench.settings import BenchSettings
from search.errors import ConfigError

PROG = "python -m benchmarks"


def _benchmarks() -> dict[str, Benchmark]:
    from benchmarks.efficiency import run_efficiency
    from benchmarks.folder import run_folder
    from benchmarks.options import run_options
    from benchmarks.overhead import run_overhead
    from benchmarks.startup import run_startup

    return {"overhead": run_overhead, "options": run_options, "efficiency": run_efficiency,
            "startup": run_startup, "folder": run_folder}


def _options(p: argparse.ArgumentParser, settings: type[BenchSettings]) -> None:
    def preset(key: str) -> str:
        return preset_help(settings.SMALL_PRESET, settings.DEFAULT_PRESET, key)

    p.add_argument("--variant", default="cnn", help="overhead, options: the zoo variant timed (default cnn)")
    p.add_argument("--folds", type=types.count(2), help=f"overhead: k of the GridSearchCV point ({preset('folds')})")
    p.add_argument("--n-trials", type=types.count(1), help=f"efficiency: Optuna trials ({preset('n_trials')})")
    p.add_argument("--startup-repeats", type=types.count(1),
                   help=f"startup: fresh interpreters per measurement ({preset('startup_repeats')})")
    p.add_argument("--optuna-space", type=Path, help="efficiency: Optuna space file (default spaces/budget50k.toml)")
    p.add_argument("--grid-space", type=Path, help="efficiency: grid space file (default spaces/seed001-grid.toml)")
    p.add_argument("--verbose", action="store_true", help="efficiency: show each search's per-trial progress")


def _checks(names: Sequence[str], settings: BenchSettings) -> None:
    assert isinstance(settings, DevSettings)
    if "overhead" in names or "options" in names:
        check_variants([settings.variant])
    if "efficiency" in names:
        for path in (settings.optuna_space, settings.grid_space):
            if path is not None and not Path(path).is_file():
                raise ConfigError(f"{path}: no such space file")


DEV = Suite(
    prog=PROG, module="benchmarks",
    description="The development harness of cnn-search: engine overhead against bare Keras, [training] speed "
                "options, start-up time, search efficiency (Optuna vs grid), loading an image folder. Rows are "
                "appended to OUT/BENCHMARK.csv.",
    order=("overhead", "options", "efficiency", "startup"), extra=("folder",), benchmarks=_benchmarks,
    settings=DevSettings, add_options=_options, check_inputs=_checks,
)


def main(argv: Sequence[str] | None = None, invoked_as: Sequence[str] = ("python", "-m", "benchmarks"),
         benchmark: str | None = None) -> int:
    """Entry point of the harness; returns the exit status (see :func:`search.bench.cli.main`)."""
    suite = dataclasses.replace(DEV, prog=" ".join(invoked_as)) if benchmark else DEV
    return _main(argv, invoked_as, suite, benchmark)


def main_for(name: str, package: str | None) -> int:
    """``python -m benchmarks.NAME`` or ``python benchmarks/NAME.py`` (``package`` empty): that one benchmark."""
    invoked_as = ("python", "-m", f"benchmarks.{name}") if package else ("python", sys.argv[0])
    return main(sys.argv[1:], invoked_as, benchmark=name)
