"""The ``cnn-search`` command: a thin layer over the Python API.

Each sub-command parses its arguments, calls one API function and prints the
outcome. User errors (:class:`~search.errors.CnnSearchError`) become one line
on stderr and exit status 2; Ctrl-C (or SIGTERM) exits 130 without a traceback.
Nothing heavy is imported until a command runs, so a worker can choose its
device before its backend starts.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from .. import interrupts
from ..errors import CnnSearchError
from . import bench, models, searching, studies
from .common import EXIT_INTERRUPTED, EXIT_USAGE

Handler = Callable[[argparse.Namespace], int]


#: One example per sub-command, shown under its --help.
EXAMPLES = {
    "models": "cnn-search models --budget 50000",
    "train": "cnn-search train grid50k --epochs 2 --subset 5000 --out results/grid50k-try",
    "run": "cnn-search run spaces/quickstart.toml",
    "worker": "cnn-search worker quickstart --storage postgresql://cnn:PASSWORD@db:5432/cnnsearch --device gpu:0",
    "studies": "cnn-search studies",
    "leaderboard": "cnn-search leaderboard quickstart --top 5 --csv board.csv",
    "best": "cnn-search best quickstart -o best.json && cnn-search train --from best.json --full-train",
    "report": "cnn-search report quickstart",
    "dashboard": "cnn-search dashboard quickstart --port 8080",
    "seeds": "cnn-search seeds",
    "bench": "cnn-search bench throughput --small",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cnn-search", description="Hyperparameter search and model comparison "
                                     "for Keras CNN image classifiers.", epilog="first search: cnn-search run "
                                     "spaces/quickstart.toml; every command: cnn-search COMMAND --help")
    parser.add_argument("--version", action="version", version=f"cnn-search {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in (models, searching, studies, bench):
        group.register(sub)
    for name, command in sub.choices.items():
        command.epilog = f"example: {EXAMPLES[name]}"
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == [bench.NAME]:
        return bench.run(argv[1:])
    args = build_parser().parse_args(argv)
    args.argv = argv
    handler: Handler = args.handler
    interrupts.reset()
    interrupts.install()  # a scheduler's SIGTERM stops cleanly, like Ctrl-C
    try:
        return handler(args)
    except CnnSearchError as exc:
        print(f"cnn-search: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("cnn-search: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("cnn-search")
    except PackageNotFoundError:  # a checkout on sys.path, not installed
        return "(not installed)"


def _one_line(exc: Any) -> str:
    return " ".join(str(exc).split())
