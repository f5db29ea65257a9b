"""Shared fixtures: where the real Fashion-MNIST files are."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from search.data import FILES


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real Fashion-MNIST directory: ``$CNN_SEARCH_DATA`` or ../shared/data/fashion-mnist.

    The tests run on the real data, never on a stand-in, so a missing
    directory fails loudly instead of skipping.
    """
    env = os.environ.get("CNN_SEARCH_DATA")
    path = Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared/data/fashion-mnist"
    missing = [name for name in FILES if not (path / name).is_file()]
    if missing:
        pytest.fail(
            f"Fashion-MNIST not found: {path} lacks {', '.join(missing)}; "
            "set CNN_SEARCH_DATA to a directory holding the four official .gz files",
            pytrace=False,
        )
    return path
