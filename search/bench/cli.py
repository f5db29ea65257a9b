"""``cnn-search bench BENCHMARK [options]``: a thin command line over the benchmark functions.

It parses options into a :class:`~search.bench.settings.BenchSettings`,
checks the data before anything is timed, runs the chosen benchmark, and
appends its rows to ``OUT/<benchmark>.csv``. A user error is one line,
``cnn-search bench: error: ...``, and exit status 2.

The benchmarks here measure the user's own machine: training and inference
throughput per variant, worker scaling, seed 003's comparison. The harness
that measures the engine itself (overhead, training options, start-up,
search efficiency) is development tooling in a checkout's ``benchmarks/``
and runs through this same command line, as another :class:`Suite`.

``all`` runs each benchmark in a fresh interpreter, one after the other:
every model Keras fits on TensorFlow leaves objects that outlive
``clear_session``, and a full ``gc.collect`` (which the engines call once
per trial) gets slower with each, so in one long process a benchmark's
figures would depend on which others ran before it. Each child appends its
rows as soon as it finishes, so an interrupted ``all`` keeps what it measured;
every row records the command the user typed.
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import CnnSearchError, ConfigError
from . import arguments as types
from .arguments import EXIT_USAGE, Parser, one_line, preset_help
from .settings import BenchSettings

EXIT_INTERRUPTED = 130

Benchmark = Callable[..., list[dict[str, Any]]]


@dataclass(frozen=True)
class Suite:
    """A set of benchmarks behind one command line: its name, its options and how to run each.

    ``order`` is what ``all`` runs (each in ``python -m MODULE NAME``);
    ``extra`` are run only by name. ``benchmarks`` imports the functions
    lazily (each pulls in Keras), ``add_options`` adds the suite's own
    options to the common ones, and ``check_inputs`` rejects bad names and
    files before anything is timed.
    """

    prog: str
    module: str
    description: str
    order: tuple[str, ...]
    extra: tuple[str, ...]
    benchmarks: Callable[[], dict[str, Benchmark]]
    settings: type[BenchSettings]
    add_options: Callable[[argparse.ArgumentParser, type[BenchSettings]], None]
    check_inputs: Callable[[Sequence[str], BenchSettings], None]


def _user_benchmarks() -> dict[str, Benchmark]:
    from .comparison import run_comparison
    from .throughput import run_throughput
    from .workers import run_workers

    return {"throughput": run_throughput, "workers": run_workers, "comparison": run_comparison}


def _user_options(p: argparse.ArgumentParser, settings: type[BenchSettings]) -> None:
    small, defaults = settings.SMALL_PRESET, settings.DEFAULT_PRESET

    def preset(key: str) -> str:
        return preset_help(small, defaults, key)

    p.add_argument("--variants", type=types.names, help="throughput: comma-separated variants (default: the zoo)")
    p.add_argument("--seconds", type=types.seconds, help=f"throughput: length of one measurement ({preset('seconds')})")
    p.add_argument("--eval-batch", type=types.count(1), help=f"throughput: inference batch ({preset('eval_batch')})")
    p.add_argument("--workers", type=types.counts, help="workers: worker processes per run, comma-separated "
                   f"(default {','.join(map(str, defaults['workers']))}, --small "
                   f"{','.join(map(str, small['workers']))}); with a GPU they share GPU 0")
    p.add_argument("--trials-per-gpu", type=types.counts, metavar="LIST",
                   help="workers: the worker counts of --workers, spelt for a GPU host: K trials share GPU 0, "
                        "each capped to 1/K of its memory, for each K listed (e.g. 1,2,4,8; no GPU: K CPU workers)")
    p.add_argument("--worker-trials", type=types.count(1), help=f"workers: trials per run ({preset('worker_trials')})")
    p.add_argument("--seeds", type=types.count(1),
                   help="comparison: seeds per model of spaces/variants.toml (default: the space's 3)")


def check_variants(names: Sequence[str]) -> None:
    """An unknown variant name fails here, before any benchmark has run."""
    from ..runtime import import_backend_quietly

    import_backend_quietly()
    from ..zoo import get_variant

    for name in names:
        get_variant(name)


def _user_checks(names: Sequence[str], settings: BenchSettings) -> None:
    check_variants(settings.variants or ())


USER = Suite(
    prog="cnn-search bench", module="search.bench",
    description="Benchmarks of this machine: per-variant training and inference throughput, worker scaling, "
                "seed 003's comparison. Rows are appended to OUT/BENCHMARK.csv.",
    order=("throughput", "workers"), extra=("comparison",), benchmarks=_user_benchmarks, settings=BenchSettings,
    add_options=_user_options, check_inputs=_user_checks,
)


def build_parser(suite: Suite = USER, benchmark: str | None = None) -> argparse.ArgumentParser:
    """The suite's parser: the benchmark (unless fixed by ``benchmark``), common and suite options."""
    small, defaults = suite.settings.SMALL_PRESET, suite.settings.DEFAULT_PRESET

    def preset(key: str) -> str:
        return preset_help(small, defaults, key)

    p = Parser(prog=suite.prog, allow_abbrev=False, description=suite.description)
    if benchmark is None:
        p.add_argument("benchmark", choices=(*suite.order, *suite.extra, "all"),
                       help=f"which benchmark ('all': {', '.join(suite.order)} in turn, each in a fresh interpreter)")
    p.add_argument("--small", action="store_true",
                   help="the preset under which `all` takes under 10 minutes on 2 CPU cores: "
                        + ", ".join(f"{k}={v}" for k, v in small.items()) + " (options given explicitly win)")
    p.add_argument("--data-dir", type=Path, help="directory with the four Fashion-MNIST .gz files "
                   "(default: $CNN_SEARCH_DATA, then the Keras cache)")
    p.add_argument("--subset", type=types.count(100), help=f"stratified training images ({preset('subset')})")
    p.add_argument("--test-subset", type=types.count(10), help=f"stratified test images ({preset('test_subset')}; "
                   "default: all)")
    p.add_argument("--epochs", type=types.count(1), help=f"epochs per training run ({preset('epochs')})")
    p.add_argument("--batch-size", type=types.count(1), help="training batch size (default: each variant's own)")
    p.add_argument("--repeats", type=types.count(1),
                   help=f"timed runs per figure, median reported ({preset('repeats')})")
    p.add_argument("--seed", type=types.count(0), default=0,
                   help="seed of data split, weights and samplers (default 0)")
    p.add_argument("--out", type=Path, default=Path("results/bench"), help="CSV directory (default results/bench)")
    suite.add_options(p, suite.settings)
    p.add_argument("--recorded-command", help=argparse.SUPPRESS)  # `all` passes the user's command to its children
    return p


def settings_from_args(args: argparse.Namespace, command: str, suite: Suite = USER) -> BenchSettings:
    """The validated settings of parsed arguments (the preset fills what was not given)."""
    given = vars(args)
    fields = {f.name for f in dataclasses.fields(suite.settings)} - {"small", "command", "workers"}
    options = {name: given[name] for name in fields if name in given}
    if "workers" in given:
        options["workers"] = _worker_counts(args)
    return suite.settings.from_options(small=args.small, command=command, **options)


def _worker_counts(args: argparse.Namespace) -> tuple[int, ...] | None:
    """``--workers`` or ``--trials-per-gpu`` (one list, two names: on a GPU the K workers share GPU 0)."""
    if args.workers is not None and args.trials_per_gpu is not None and args.workers != args.trials_per_gpu:
        raise ConfigError("--workers and --trials-per-gpu both set the workers benchmark's worker counts; give one")
    return args.trials_per_gpu if args.trials_per_gpu is not None else args.workers


def run(names: Sequence[str], settings: BenchSettings, suite: Suite = USER) -> dict[str, Path]:
    """Run the named benchmarks in order; append, print and return where each one's rows went."""
    from .datasets import check_data
    from .records import Context, append_rows
    from .table import format_table

    check_data(settings)
    suite.check_inputs(names, settings)
    context = Context.capture(settings.command)
    table = suite.benchmarks()
    written: dict[str, Path] = {}
    for name in names:
        start = time.perf_counter()
        rows = table[name](settings, context)
        written[name] = append_rows(settings.out / f"{name}.csv", rows)
        print(f"\n{name} ({time.perf_counter() - start:.0f} s, {len(rows)} rows -> {written[name]})")
        print(format_table(rows), flush=True)
    return written


def main(argv: Sequence[str] | None = None, invoked_as: Sequence[str] = ("python", "-m", "search.bench"),
         suite: Suite = USER, benchmark: str | None = None) -> int:
    """Entry point; returns the exit status. ``invoked_as`` is how the recorded command begins.

    ``benchmark`` fixes which one runs (a command of its own, such as
    ``python -m benchmarks.overhead``); without it the first argument names it.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(suite, benchmark).parse_args(argv)
    name = benchmark or args.benchmark
    command = args.recorded_command or shlex.join([*invoked_as, *argv])
    start = time.perf_counter()
    try:
        settings = settings_from_args(args, command, suite)
        if name == "all":
            status = run_all(argv, settings, suite)
            if status:
                return status
        else:
            run([name], settings, suite)
    except CnnSearchError as exc:
        print(f"{suite.prog}: error: {one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{suite.prog}: interrupted (benchmarks that finished are saved)", file=sys.stderr)
        return EXIT_INTERRUPTED
    if not args.recorded_command:  # a child of `all` leaves the total to its parent
        print(f"\ntotal {time.perf_counter() - start:.0f} s: {command}")
    return 0


def run_all(argv: Sequence[str], settings: BenchSettings, suite: Suite = USER) -> int:
    """Each benchmark in its own fresh interpreter (see the module docstring); the first failure's status."""
    from .datasets import check_data

    check_data(settings)
    suite.check_inputs(suite.order, settings)  # one error before anything runs, not one per child
    rest = _without_benchmark(argv)
    for name in suite.order:
        child = [sys.executable, "-m", suite.module, name, *rest, "--recorded-command", settings.command]
        status = subprocess.run(child, check=False).returncode
        if status:
            return status
    return 0


#: The options that take no value, in either suite.
_FLAGS = ("--small", "--verbose")


def _without_benchmark(argv: Sequence[str]) -> list[str]:
    """``argv`` without the positional ``all`` (an option's value that happens to be "all" stays)."""
    for i, token in enumerate(argv):
        previous = argv[i - 1] if i else ""
        takes_value = previous.startswith("--") and previous not in _FLAGS and "=" not in previous
        if token == "all" and not takes_value:
            return [*argv[:i], *argv[i + 1:]]
    return list(argv)
