"""Run in a fresh interpreter by the start-up benchmark: ``cnn-search run``'s steps, with timestamps.

Started as a script (``python path/to/startup_probe.py ARGS_JSON``), not
with ``-m``, so that nothing of ``search`` is imported before the first
timestamp. It performs what ``cnn-search run`` performs (``search/cli.py``
``_cmd_run`` then ``search/runner.py`` ``run_search``) step by step, marks
the wall-clock time (``time.time()``, comparable with the parent's) after
each, and stops the process at the end of the first trial's first epoch:
everything after that is the search itself, not start-up. The marks go to
stdout as one JSON line.
"""

import time

MARKS = {"start": time.time()}

import json  # noqa: E402  (the first mark is taken before anything is imported)
import os  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402


def mark(name: str) -> None:
    MARKS.setdefault(name, time.time())


def finish(status: str) -> None:
    MARKS["status"] = status
    sys.stdout.write(json.dumps(MARKS) + "\n")
    sys.stdout.flush()
    os._exit(0)  # stop here: the rest of the trial is not start-up


def main(args: dict) -> None:
    from search.cli import main as _console_script_entry  # noqa: F401  (what the console script imports)

    mark("import_cli")
    from search.runtime import import_backend_quietly

    import_backend_quietly()
    mark("import_backend")
    from search.runner import RunOptions, resolve_space
    from search.storages import describe_storage  # noqa: F401  (_cmd_run's imports)

    mark("import_search")
    options = RunOptions(n_trials=args["n_trials"], subset=args["subset"], epochs=args["epochs"],
                         test_subset=args["test_subset"], data_dir=args["data_dir"] and Path(args["data_dir"]),
                         results_dir=Path(args["results_dir"]))
    space = resolve_space(args["space"], options)
    mark("space_check")

    import keras
    import optuna

    from search.data import load_dataset
    from search.execution import run_study
    from search.spaces import ParamCounter
    from search.storages import open_storage

    storage = open_storage(options.storage, space.study, options.results_dir)
    mark("storage_open")
    dataset = load_dataset(space.data_options(), data_dir=options.data_dir)
    mark("data_load")

    count = ParamCounter.count

    def timed_count(self, *a, **k):  # the engine's budget check builds the model without training
        mark("budget_check_start")
        try:
            return count(self, *a, **k)
        finally:
            mark("budget_check")

    class FirstEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            mark("first_epoch")
            finish("ok")

    fit = keras.Model.fit

    def timed_fit(self, *a, **k):  # entered once the trial's model is built and compiled
        mark("model_build")
        k["callbacks"] = [*(k.get("callbacks") or []), FirstEpoch()]
        return fit(self, *a, **k)

    ParamCounter.count = timed_count
    keras.Model.fit = timed_fit
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    run_study(space, storage, dataset, ParamCounter(), callbacks=[])
    finish("no epoch ran")


if __name__ == "__main__":
    # Replace this script's directory on sys.path: its modules (records, timing, datasets, ...) must
    # not shadow top-level packages of the same name for the libraries imported below.
    sys.path[0] = str(Path(__file__).resolve().parents[2])
    main(json.loads(sys.argv[1]))
