"""Run in a fresh interpreter by the start-up benchmark: the real ``cnn-search run``, with timestamps.

``python benchmarks/startup_probe.py MARKS.json run SPACE [options]`` imports
:mod:`search.cli` (the module the ``cnn-search`` console script names in
``pyproject.toml``) and calls its ``main`` with the arguments after
``MARKS.json``, as the console script does: the run path is the real one,
nothing of it is re-implemented here. It is watched from outside, within a
``with`` block that undoes what it installs:

- an import hook marks when ``keras`` (and with it the backend) has finished
  importing, wherever in the run that happens;
- ``keras.Model.fit`` is wrapped from then on: its first call marks the end
  of the set-up (runner imports, space and budget check, storage, data,
  study, the trial's parameter count, build and compile) and adds a callback
  that marks the end of the first epoch.

At the end of that first epoch the marks (``time.time()``, comparable with
the parent's clock) are written to ``MARKS.json`` as one JSON object and the
process ends: everything after it is the search itself, not start-up. It is
started as a script, not with ``-m``, so that nothing of ``search`` is
imported before the first mark.
"""

import time

MARKS = {"start": time.time()}

import contextlib  # noqa: E402  (the first mark is taken before anything is imported)
import importlib.abc  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

OUT: list[Path] = []


def mark(name: str) -> None:
    MARKS.setdefault(name, time.time())


def finish(status: str) -> None:
    """Write the marks and end the process at once (the rest of the trial is not start-up)."""
    MARKS["status"] = status
    OUT[0].write_text(json.dumps(MARKS) + "\n")
    os._exit(0)


class _AfterImport(importlib.abc.MetaPathFinder):
    """Calls ``loaded(module)`` once the top-level module ``name`` has been executed; finds nothing itself."""

    def __init__(self, name: str, loaded: Callable[[Any], None]) -> None:
        self.name = name
        self.loaded = loaded

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)  # once, and the real finders do the finding
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        execute = spec.loader.exec_module

        def exec_module(module: Any) -> None:
            execute(module)
            self.loaded(module)

        spec.loader.exec_module = exec_module  # this module's own loader, for this one import
        return spec


@contextlib.contextmanager
def watching() -> Iterator[None]:
    """Mark the end of Keras's import, the first ``fit`` and its first epoch; undo it all on exit."""
    restore: list[Callable[[], None]] = []

    def keras_loaded(keras: Any) -> None:
        mark("import_backend")
        fit = keras.Model.fit

        class FirstEpoch(keras.callbacks.Callback):
            def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
                mark("first_epoch")
                finish("ok")

        def first_fit(model: Any, *args: Any, **kwargs: Any) -> Any:
            mark("fit_start")
            kwargs["callbacks"] = [*(kwargs.get("callbacks") or []), FirstEpoch()]
            return fit(model, *args, **kwargs)

        keras.Model.fit = first_fit
        restore.append(lambda: setattr(keras.Model, "fit", fit))

    finder = _AfterImport("keras", keras_loaded)
    if "keras" in sys.modules:  # already imported with the console script's module: nothing to time
        keras_loaded(sys.modules["keras"])
    else:
        sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        if finder in sys.meta_path:
            sys.meta_path.remove(finder)
        for undo in restore:
            undo()


def main(argv: list[str]) -> None:
    from search.cli import main as console_script

    mark("import_cli")
    with watching():
        status = console_script(argv)
    finish(f"no epoch ran (cnn-search exited {status})")


if __name__ == "__main__":
    # Replace this script's directory on sys.path by the checkout's root: the checkout's `search` is the
    # one measured, and this folder's modules must not shadow packages of the same name.
    sys.path[0] = str(Path(__file__).resolve().parents[1])
    OUT.append(Path(sys.argv[1]))
    main(sys.argv[2:])
