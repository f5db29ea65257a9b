"""Test-only: make the first trial of the worker processes hang, for real (tests/test_faults.py).

Put on ``PYTHONPATH`` with ``CNN_SEARCH_TEST_HANG=lock`` (a deadlock: the
main thread waits for ever on a lock it holds, as a deadlocked data loader
does) or ``=gil`` (catastrophic regex backtracking: a C call that holds the
interpreter lock, so no other thread of the process runs either). Only the
first trial of all processes that share ``CNN_SEARCH_TEST_HANG_MARKER``
hangs. This lives with the tests and is no part of the package.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import re
import sys
import threading

TARGET = "search.engines.optuna_engine"


class _PatchObjective(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != TARGET:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        exec_module = spec.loader.exec_module

        def load(module):
            exec_module(module)
            _hang_first_trial(module.Objective)

        spec.loader.exec_module = load
        return spec


def _hang_first_trial(cls):
    run = cls.__call__

    def call(self, trial):
        try:
            os.close(os.open(os.environ["CNN_SEARCH_TEST_HANG_MARKER"], os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return run(self, trial)
        if os.environ["CNN_SEARCH_TEST_HANG"] == "gil":
            re.match(r"(a+)+$", "a" * 64 + "b")  # 2**64 steps inside one C call
        lock = threading.Lock()
        lock.acquire()
        lock.acquire()  # never returns

    cls.__call__ = call


if os.environ.get("CNN_SEARCH_TEST_HANG"):
    sys.meta_path.insert(0, _PatchObjective())
