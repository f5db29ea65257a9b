"""``python -m search.bench BENCHMARK [options]``: a thin command line over the benchmark functions.

It parses options into a :class:`~search.bench.settings.BenchSettings`,
checks the data before anything is timed, runs the chosen benchmark, and
appends its rows to ``OUT/<benchmark>.csv``. A user error is one line,
``cnn-search bench: error: ...``, and exit status 2.

``all`` runs each benchmark in a fresh interpreter, one after the other:
every model Keras fits on TensorFlow leaves objects that outlive
``clear_session``, and a full ``gc.collect`` (which the engines call several
times per trial) gets slower with each, so in one long process a benchmark's
figures would depend on which others ran before it. Each child appends its
rows as soon as it finishes, so an interrupted ``all`` keeps what it measured;
every row records the command the user typed.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from ..errors import CnnSearchError, ConfigError
from .settings import DEFAULTS, SMALL, BenchSettings

PROG = "cnn-search bench"
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
ORDER = ("overhead", "options", "throughput", "efficiency", "startup", "workers")
#: Benchmarks `all` leaves out: GPU-sized at their real size (scripts/gpu-bench.sh runs them).
EXTRA = ("comparison",)

Benchmark = Callable[..., list[dict[str, Any]]]


def benchmarks() -> dict[str, Benchmark]:
    """Name -> function(settings, context) returning CSV rows (imported lazily: each pulls in Keras)."""
    from .comparison import run_comparison
    from .efficiency import run_efficiency
    from .options import run_options
    from .overhead import run_overhead
    from .startup import run_startup
    from .throughput import run_throughput
    from .workers import run_workers

    return {"overhead": run_overhead, "options": run_options, "throughput": run_throughput,
            "efficiency": run_efficiency, "startup": run_startup, "workers": run_workers,
            "comparison": run_comparison}


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit status 2 (no usage dump)."""

    def error(self, message: str) -> NoReturn:
        print(f"{PROG}: error: {_one_line(message)}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def _count(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def _counts(text: str) -> tuple[int, ...]:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts or not all(p.isdigit() and int(p) >= 1 for p in parts):
        raise argparse.ArgumentTypeError(f"expected comma-separated positive integers, e.g. 1,2,4, got {text!r}")
    return tuple(int(p) for p in parts)


def _names(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise argparse.ArgumentTypeError("expected a comma-separated list of variants")
    return names


def _preset(key: str) -> str:
    return f"default {DEFAULTS[key]}, --small {SMALL[key]}"


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, allow_abbrev=False,
                description="Benchmarks of cnn-search: engine overhead, [training] speed options, per-variant "
                            "throughput, search efficiency (Optuna vs grid), start-up time and worker scaling. "
                            "Rows are appended to OUT/BENCHMARK.csv.")
    p.add_argument("benchmark", choices=(*ORDER, *EXTRA, "all"),
                   help="which benchmark ('all': each but comparison in turn, each in a fresh interpreter)")
    p.add_argument("--small", action="store_true",
                   help="the preset under which `all` takes under 10 minutes on 2 CPU cores: "
                        + ", ".join(f"{k}={v}" for k, v in SMALL.items()) + " (options given explicitly win)")
    p.add_argument("--data-dir", type=Path, help="directory with the four Fashion-MNIST .gz files "
                   "(default: $CNN_SEARCH_DATA, then the Keras cache)")
    p.add_argument("--subset", type=_count(100), help=f"stratified training images ({_preset('subset')})")
    p.add_argument("--test-subset", type=_count(10), help=f"stratified test images ({_preset('test_subset')}; "
                   "default: all)")
    p.add_argument("--epochs", type=_count(1), help=f"epochs per training run ({_preset('epochs')})")
    p.add_argument("--batch-size", type=_count(1), help="training batch size (default: each variant's own)")
    p.add_argument("--repeats", type=_count(1), help=f"timed runs per figure, median reported ({_preset('repeats')})")
    p.add_argument("--seed", type=_count(0), default=0, help="seed of data split, weights and samplers (default 0)")
    p.add_argument("--out", type=Path, default=Path("results/bench"), help="CSV directory (default results/bench)")
    p.add_argument("--variant", default="cnn", help="overhead, options: the zoo variant timed (default cnn)")
    p.add_argument("--variants", type=_names, help="throughput: comma-separated variants (default: the whole zoo)")
    p.add_argument("--folds", type=_count(2), help=f"overhead: k of the GridSearchCV point ({_preset('folds')})")
    p.add_argument("--seconds", type=_seconds, help=f"throughput: length of one measurement ({_preset('seconds')})")
    p.add_argument("--eval-batch", type=_count(1), help=f"throughput: inference batch ({_preset('eval_batch')})")
    p.add_argument("--n-trials", type=_count(1), help=f"efficiency: Optuna trials ({_preset('n_trials')})")
    p.add_argument("--startup-repeats", type=_count(1),
                   help=f"startup: fresh interpreters per measurement ({_preset('startup_repeats')})")
    p.add_argument("--workers", type=_counts, help="workers: worker processes per run, comma-separated "
                   f"(default {','.join(map(str, DEFAULTS['workers']))}, --small "
                   f"{','.join(map(str, SMALL['workers']))}); with a GPU they share GPU 0")
    p.add_argument("--trials-per-gpu", type=_counts, metavar="LIST",
                   help="workers: the worker counts of --workers, spelt for a GPU host: K trials share GPU 0, "
                        "each capped to 1/K of its memory, for each K listed (e.g. 1,2,4,8; no GPU: K CPU workers)")
    p.add_argument("--worker-trials", type=_count(1), help=f"workers: trials per run ({_preset('worker_trials')})")
    p.add_argument("--seeds", type=_count(1),
                   help="comparison: seeds per model of spaces/variants.toml (default: the space's 3)")
    p.add_argument("--optuna-space", type=Path, help="efficiency: Optuna space file (default spaces/budget50k.toml)")
    p.add_argument("--grid-space", type=Path, help="efficiency: grid space file (default spaces/seed001-grid.toml)")
    p.add_argument("--verbose", action="store_true", help="efficiency: show each search's per-trial progress")
    p.add_argument("--recorded-command", help=argparse.SUPPRESS)  # `all` passes the user's command to its children
    return p


def settings_from_args(args: argparse.Namespace, command: str) -> BenchSettings:
    """The validated settings of parsed arguments (the preset fills what was not given)."""
    return BenchSettings.from_options(
        small=args.small, data_dir=args.data_dir, subset=args.subset, test_subset=args.test_subset,
        epochs=args.epochs, batch_size=args.batch_size, repeats=args.repeats, seed=args.seed, out=args.out,
        variant=args.variant, variants=args.variants, folds=args.folds, seconds=args.seconds,
        eval_batch=args.eval_batch, n_trials=args.n_trials, startup_repeats=args.startup_repeats,
        workers=_worker_counts(args), worker_trials=args.worker_trials, seeds=args.seeds,
        optuna_space=args.optuna_space, grid_space=args.grid_space, command=command,
    )


def _worker_counts(args: argparse.Namespace) -> tuple[int, ...] | None:
    """``--workers`` or ``--trials-per-gpu`` (one list, two names: on a GPU the K workers share GPU 0)."""
    if args.workers is not None and args.trials_per_gpu is not None and args.workers != args.trials_per_gpu:
        raise ConfigError("--workers and --trials-per-gpu both set the workers benchmark's worker counts; give one")
    return args.trials_per_gpu if args.trials_per_gpu is not None else args.workers


def run(names: Sequence[str], settings: BenchSettings, *, verbose: bool = False) -> dict[str, Path]:
    """Run the named benchmarks in order; append, print and return where each one's rows went."""
    from .datasets import check_data
    from .records import Context, append_rows
    from .table import format_table

    check_data(settings)
    _check_inputs(names, settings)
    context = Context.capture(settings.command)
    table = benchmarks()
    written: dict[str, Path] = {}
    for name in names:
        start = time.perf_counter()
        kwargs: dict[str, Any] = {"stream": sys.stderr} if name == "efficiency" and verbose else {}
        rows = table[name](settings, context, **kwargs)
        written[name] = append_rows(settings.out / f"{name}.csv", rows)
        print(f"\n{name} ({time.perf_counter() - start:.0f} s, {len(rows)} rows -> {written[name]})")
        print(format_table(rows), flush=True)
    return written


def _check_inputs(names: Sequence[str], settings: BenchSettings) -> None:
    """Unknown variants and missing space files fail here, before any benchmark has run."""
    from ..runtime import import_backend_quietly

    import_backend_quietly()
    from ..zoo import get_variant

    if "overhead" in names or "options" in names:
        get_variant(settings.variant)
    for name in settings.variants or ():
        get_variant(name)
    if "efficiency" in names:
        for path in (settings.optuna_space, settings.grid_space):
            if path is not None and not Path(path).is_file():
                raise ConfigError(f"{path}: no such space file")


def main(argv: Sequence[str] | None = None, invoked_as: Sequence[str] = ("python", "-m", "search.bench")) -> int:
    """Entry point; returns the exit status. ``invoked_as`` is how the recorded command begins."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    command = args.recorded_command or shlex.join([*invoked_as, *argv])
    start = time.perf_counter()
    try:
        settings = settings_from_args(args, command)
        if args.benchmark == "all":
            status = run_all(argv, settings)
            if status:
                return status
        else:
            run([args.benchmark], settings, verbose=args.verbose)
    except CnnSearchError as exc:
        print(f"{PROG}: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted (benchmarks that finished are saved)", file=sys.stderr)
        return EXIT_INTERRUPTED
    if not args.recorded_command:  # a child of `all` leaves the total to its parent
        print(f"\ntotal {time.perf_counter() - start:.0f} s: {command}")
    return 0


def run_all(argv: Sequence[str], settings: BenchSettings) -> int:
    """Each benchmark in its own fresh interpreter (see the module docstring); the first failure's status."""
    from .datasets import check_data

    check_data(settings)
    _check_inputs(ORDER, settings)  # one error before anything runs, not one per child
    rest = _without_benchmark(argv)
    for name in ORDER:
        child = [sys.executable, "-m", "search.bench", name, *rest, "--recorded-command", settings.command]
        status = subprocess.run(child, check=False).returncode
        if status:
            return status
    return 0


_FLAGS = ("--small", "--verbose")


def _without_benchmark(argv: Sequence[str]) -> list[str]:
    """``argv`` without the positional ``all`` (an option's value that happens to be "all" stays)."""
    for i, token in enumerate(argv):
        previous = argv[i - 1] if i else ""
        takes_value = previous.startswith("--") and previous not in _FLAGS and "=" not in previous
        if token == "all" and not takes_value:
            return [*argv[:i], *argv[i + 1:]]
    return list(argv)


def _one_line(exc: Any) -> str:
    return " ".join(str(exc).split())
