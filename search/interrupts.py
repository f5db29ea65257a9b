"""Ctrl-C and SIGTERM that stop a worker even where a library swallows ``KeyboardInterrupt``.

Keras wraps parts of tracing a model's training step in bare ``except:``
clauses (``keras.src.trainers.compile_utils``), so a Ctrl-C that lands while
a new trial's step is being traced is caught there and lost: the worker would
train on and keep claiming trials while ``run --workers`` waits for it to stop.
The handlers here therefore also *record* the request, and the code checks it
at safe points (before every batch, before claiming a trial), raising the
``KeyboardInterrupt`` again if it was swallowed.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

_requested = threading.Event()


def request() -> None:
    """Record a stop request without raising (for handlers that defer the interrupt)."""
    _requested.set()


def _raise(signum: int, frame: Any) -> None:
    _requested.set()
    raise KeyboardInterrupt


def install() -> None:
    """Make SIGINT and SIGTERM raise ``KeyboardInterrupt`` and leave a record that they came.

    SIGTERM is what schedulers (and ``kill``) send: it stops as cleanly as Ctrl-C.
    """
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _raise)


def raise_if_requested() -> None:
    """Raise ``KeyboardInterrupt`` again if a stop was asked for (it may have been swallowed)."""
    if _requested.is_set():
        raise KeyboardInterrupt


def reset() -> None:
    """Forget earlier requests: a new search in the same process (a notebook) starts afresh."""
    _requested.clear()
