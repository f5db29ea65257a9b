"""Pieces every sub-command shares: exit statuses, common flags, the resume command."""

from __future__ import annotations

import argparse
import os
import shlex
from collections.abc import Sequence
from pathlib import Path

from ..errors import ConfigError
from ..runtime import STORAGE_ENV

EXIT_INCOMPLETE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def parse_assignments(items: Sequence[str] | None) -> dict[str, str]:
    """``["kernel=5", "activation=elu"]`` -> ``{"kernel": "5", "activation": "elu"}``."""
    values: dict[str, str] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects key=value, got {item!r}")
        values[key.strip()] = value.strip()
    return values


def add_data_dir_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", type=Path, help="directory with the four Fashion-MNIST .gz files "
                   "(default: $CNN_SEARCH_DATA, then the Keras cache, then download)")


def add_study_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("study", help="study name")
    add_storage_args(p)


def add_storage_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--storage", default=os.environ.get(STORAGE_ENV) or None,
                   help=f"Optuna storage URL or .journal path (default: ${STORAGE_ENV}, else "
                        "results/<study>/study.journal)")
    p.add_argument("--results-dir", type=Path, default=Path("results"), help="where default studies live")


def add_heartbeat_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--heartbeat", type=int, metavar="S",
                   help="seconds between a running trial's heartbeats; a trial silent for 5x this is failed "
                        "and retried (default 10). Fixed when the study is created: every worker uses the study's")


def heartbeat_seconds(args: argparse.Namespace) -> int | None:
    """The ``--heartbeat`` given (None: not given, so the study's or the default)."""
    if args.heartbeat is not None and args.heartbeat < 1:
        raise ConfigError(f"--heartbeat must be a whole number of seconds >= 1, got {args.heartbeat}")
    return args.heartbeat


def resume_command(args: argparse.Namespace) -> str:
    """The command line that was run, with any storage password masked."""
    from ..storages import mask_url

    return "cnn-search " + " ".join(shlex.quote(mask_url(a)) for a in args.argv)
