"""The ``cnn-search`` command a benchmark launches in a fresh process, as a user would type it."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

#: Longest a launched command may run before the benchmark gives up on it.
TIMEOUT_S = 600


def console_command() -> list[str]:
    """The ``cnn-search`` console script of this environment, else ``python -m search``."""
    script = Path(sys.executable).with_name("cnn-search")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    found = shutil.which("cnn-search")
    return [found] if found else [sys.executable, "-m", "search"]
