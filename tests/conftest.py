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


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server on 127.0.0.1 for this test session (Debian's postgresql package).

    Like the data, it never skips: `.ci/run` installs the package, and a
    missing server fails the tests that need it with the command to fix it.
    """
    from pgserver import Server, find_bindir

    bindir = find_bindir()
    if bindir is None:
        pytest.fail("PostgreSQL server binaries not found: install Debian's postgresql "
                    "(apt-get install -y postgresql); .ci/run does this", pytrace=False)
    server = Server(bindir)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def pg_url(postgres, request):
    """A fresh database on the session's server, as a postgresql:// URL with a password."""
    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[:50]
    return postgres.create_database(name)
