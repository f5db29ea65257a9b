"""Print pyproject.toml's dependencies without TensorFlow, one per line, for ``pip install -r /dev/stdin``.

Hosts that carry JAX or PyTorch but not TensorFlow (the GPU machines; CI's
JAX job) install the project with ``pip install --no-deps -e .`` and then
these lines, so the dependency list lives in pyproject.toml only.
Usage: ``python .ci/requirements-without-tensorflow.py [EXTRA ...]`` (extras
such as ``test`` are appended).
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

EXCLUDED = {"tensorflow"}
PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def requirements(extras: list[str], pyproject: Path = PYPROJECT) -> list[str]:
    """The requirement lines of ``[project].dependencies`` and of ``extras``, without :data:`EXCLUDED`."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    lines = list(project["dependencies"])
    for extra in extras:
        lines += project["optional-dependencies"][extra]
    return [line for line in lines if re.split(r"[\s\[<>=!~;]", line, maxsplit=1)[0].lower() not in EXCLUDED]


if __name__ == "__main__":
    print("\n".join(requirements(sys.argv[1:])))
