"""Argument types and the parser class shared by ``cnn-search bench`` and the development harness.

A usage error is one line, ``PROG: error: ...``, and exit status 2, never a
usage dump: the benchmark commands are run from scripts whose logs should say
what was wrong in one line.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

EXIT_USAGE = 2


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit status 2 (no usage dump)."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {one_line(message)}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def count(minimum: int) -> Callable[[str], int]:
    """An argument type: an integer of at least ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def seconds(text: str) -> float:
    """An argument type: a positive number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def counts(text: str) -> tuple[int, ...]:
    """An argument type: comma-separated positive integers, e.g. ``1,2,4``."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts or not all(p.isdigit() and int(p) >= 1 for p in parts):
        raise argparse.ArgumentTypeError(f"expected comma-separated positive integers, e.g. 1,2,4, got {text!r}")
    return tuple(int(p) for p in parts)


def names(text: str) -> tuple[str, ...]:
    """An argument type: a comma-separated list of names."""
    parsed = tuple(n.strip() for n in text.split(",") if n.strip())
    if not parsed:
        raise argparse.ArgumentTypeError("expected a comma-separated list of variants")
    return parsed


def preset_help(small: Mapping[str, Any], defaults: Mapping[str, Any], key: str) -> str:
    """``default X, --small Y`` for an option's help."""
    return f"default {defaults[key]}, --small {small[key]}"


def one_line(message: Any) -> str:
    """``message`` on one line (an error may quote a multi-line value)."""
    return " ".join(str(message).split())
