"""Where a run's time goes: wall time per phase, by wrapping entry points for the duration of a run.

The engines are not edited to be measured: :meth:`PhaseProfiler.patched`
replaces a few public entry points (``keras.Model.fit``/``evaluate``/
``predict``, ``ParamCounter.count``, ``keras.backend.clear_session``,
``gc.collect``, ...) by timed wrappers inside a ``with`` block and restores
the originals when it ends, and :class:`TimedStorage` wraps the Optuna
storage handed to an engine. Nothing is replaced at import time, and this
module is development tooling: it is not part of the installed package.
"""

from __future__ import annotations

import abc
import contextlib
import functools
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from optuna.storages import BaseStorage


class PhaseProfiler:
    """Wall time per phase, taken by wrapping callables; the outermost wrapped call wins.

    A wrapped call made inside another wrapped call (Keras's ``fit`` calls
    ``evaluate`` for the validation data; ``clear_session`` calls
    ``gc.collect``) is counted in the outer phase only, so the phases never
    overlap and "total minus phases" is the time spent elsewhere.
    """

    def __init__(self) -> None:
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self.calls: Counter[str] = Counter()
        self._local = threading.local()

    def reset(self) -> None:
        self.seconds.clear()
        self.calls.clear()

    def snapshot(self) -> tuple[dict[str, float], dict[str, int]]:
        """(seconds per phase, calls per phase) so far."""
        return dict(self.seconds), dict(self.calls)

    def wrap(self, phase: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` with its time (when not nested in another wrapped call) added to ``phase``."""
        profiler = self

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            depth = getattr(profiler._local, "depth", 0)
            if depth:
                return fn(*args, **kwargs)
            profiler._local.depth = 1
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                profiler.seconds[phase] += time.perf_counter() - start
                profiler.calls[phase] += 1
                profiler._local.depth = 0

        return wrapper

    @contextlib.contextmanager
    def patched(self, targets: Sequence[tuple[Any, str, str]]) -> Iterator[PhaseProfiler]:
        """Replace ``owner.attr`` by its wrapped version for each ``(owner, attr, phase)``; restore after."""
        saved: list[tuple[Any, str, Any, bool]] = []
        try:
            for owner, attr, phase in targets:
                own = attr in vars(owner)
                original = vars(owner)[attr] if own else getattr(owner, attr)
                saved.append((owner, attr, original, own))
                setattr(owner, attr, self.wrap(phase, getattr(owner, attr)))
            yield self
        finally:
            for owner, attr, original, own in reversed(saved):
                if own:
                    setattr(owner, attr, original)
                else:
                    delattr(owner, attr)


def keras_targets() -> list[tuple[Any, str, str]]:
    """The public Keras and library entry points whose time a benchmark attributes to phases."""
    import gc

    import keras
    from sklearn import metrics

    from search.spaces import ParamCounter

    return [
        (keras.Model, "fit", "fit"),
        (keras.Model, "evaluate", "evaluate"),
        (keras.Model, "predict", "predict"),
        (keras.Model, "compile", "compile"),
        (ParamCounter, "count", "param_count"),
        (keras.backend, "clear_session", "clear_session"),
        (gc, "collect", "gc_collect"),
        (keras.utils, "set_random_seed", "seeding"),
        (metrics, "confusion_matrix", "confusion_matrix"),
    ]


class TimedStorage(BaseStorage):
    """An Optuna storage that forwards every call to ``inner`` and adds its time to a profiler phase.

    Passed to an engine in place of the storage it would get, it measures what
    the journal writes (one file append, lock and flush per ``set_user_attr``)
    cost a trial, without touching the engine.
    """

    def __init__(self, inner: BaseStorage, profiler: PhaseProfiler, phase: str = "storage") -> None:
        self._inner = inner
        self._profiler = profiler
        self._phase = phase

    def __getattr__(self, name: str) -> Any:  # anything not declared on BaseStorage
        return getattr(self._inner, name)


def _forward(name: str) -> Callable[..., Any]:
    def method(self: TimedStorage, *args: Any, **kwargs: Any) -> Any:
        return self._profiler.wrap(self._phase, getattr(self._inner, name))(*args, **kwargs)

    method.__name__ = name
    return method


for _name in [n for n in dir(BaseStorage) if not n.startswith("_") and callable(getattr(BaseStorage, n))]:
    setattr(TimedStorage, _name, _forward(_name))
abc.update_abstractmethods(TimedStorage)
