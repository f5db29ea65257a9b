"""Timing tools for a noisy shared machine: alternation, medians, epoch clocks.

Other work runs on the same CPU, so a single timing means little. Every
comparison runs its contenders alternately in one process, rotating the
order each round so none always goes first (or always follows the same
neighbour), and reports the median over rounds with the raw runs kept.
Nothing here replaces an attribute of Keras or any other library: a
benchmark observes through callbacks and its own clock only (the
development harness in ``benchmarks/`` attributes time to phases, scoped to
its own runs).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


def median(values: Sequence[float]) -> float:
    """The median of ``values`` (the figure reported for repeated timings)."""
    return float(statistics.median(values))


def rotations(contenders: Sequence[T], repeats: int) -> Iterator[tuple[int, list[T]]]:
    """``(round, order)`` for each round, the order rotated by one each round.

    With two contenders A, B: AB, BA, AB, ...; with three: ABC, BCA, CAB. A
    contender that always ran first would carry the machine's warm-up (or a
    neighbour's leftover memory pressure) in every one of its runs.
    """
    n = len(contenders)
    for r in range(repeats):
        k = r % n if n else 0
        yield r, [*contenders[k:], *contenders[:k]]


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    """``(seconds, result)`` of one call, measured with ``perf_counter``."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def epoch_clock() -> Any:
    """A Keras callback whose ``times`` lists each epoch's wall time (the steps, not ``fit``'s set-up)."""
    import keras

    class EpochClock(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.times: list[float] = []
            self._start = 0.0

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            self.times.append(time.perf_counter() - self._start)

    return EpochClock()
