"""Ctrl-C and SIGTERM that stop a worker even where a library swallows ``KeyboardInterrupt``.

Keras wraps parts of tracing a model's training step in bare ``except:``
clauses (``keras.src.trainers.compile_utils``), so a Ctrl-C that lands while
a new trial's step is being traced is caught there and lost: the worker would
train on and keep claiming trials while ``run --workers`` waits for it to stop.
The handlers here therefore also *record* the request, and the code checks it
at safe points (before every batch, before claiming a trial), raising the
``KeyboardInterrupt`` again if it was swallowed.

Where an exception at an arbitrary bytecode would corrupt state (a storage
write, or the standard library's own locks: a ``KeyboardInterrupt`` that lands
between ``Popen.poll``'s lock acquire and its ``try`` leaves that lock held
forever), :func:`sigint_deferred` turns the signals into a record for the
length of a block.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
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


@contextlib.contextmanager
def sigint_deferred() -> Iterator[list[int]]:
    """Hold Ctrl-C (and SIGTERM) until the block ends; the yielded list is non-empty once one came.

    Outside the main thread (where Python runs no signal handlers) the block
    runs as it is and the list stays empty.
    """
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def defer(signum: int, frame: Any) -> None:
        request()
        received.append(signum)

    previous = {sig: _swap(sig, defer, received) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            _swap(sig, handler, received)


def _swap(sig: int, handler: Any, received: list[int]) -> Any:
    """``signal.signal`` that records, rather than raises, a signal still pending from before the swap.

    ``signal.signal()`` first runs the handlers of pending signals: a Ctrl-C
    that arrived just before would otherwise raise here, half-way through
    installing or restoring the handlers.
    """
    try:
        return signal.signal(sig, handler)
    except KeyboardInterrupt:
        received.append(signal.SIGINT)
        return signal.signal(sig, handler)
