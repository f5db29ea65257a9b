"""Where studies live.

By default a study is an Optuna journal file under ``results/<study>/``: no
server, safe for several local processes appending at once (unlike SQLite,
which reports "database is locked" under concurrent writers). Any Optuna RDB
URL (``postgresql://...``, ``sqlite:///...``) selects a database instead.
"""

from __future__ import annotations

import re
from pathlib import Path

import optuna
from optuna.storages import BaseStorage, JournalStorage
from optuna.storages.journal import JournalFileBackend

from ..errors import ConfigError

DEFAULT_RESULTS = Path("results")
JOURNAL_NAME = "study.journal"


def default_storage_path(study: str, results_dir: str | Path = DEFAULT_RESULTS) -> Path:
    return Path(results_dir) / study / JOURNAL_NAME


def open_storage(url: str | None, study: str, results_dir: str | Path = DEFAULT_RESULTS) -> BaseStorage:
    """An Optuna storage for ``url``; ``None`` or a ``.journal``/``.log`` path means a journal file."""
    if url is None:
        return _journal(default_storage_path(study, results_dir))
    if "://" not in url:
        if url.endswith((".journal", ".log")):
            return _journal(Path(url))
        raise ConfigError(f"--storage {mask_url(url)!r}: expected an Optuna database URL "
                          "(postgresql://..., sqlite:///...) or a path ending in .journal")
    try:
        return optuna.storages.RDBStorage(url, heartbeat_interval=60, grace_period=180)
    except Exception as exc:  # driver missing, server down, bad URL: all the user's to fix
        raise ConfigError(f"--storage {mask_url(url)}: cannot open ({type(exc).__name__}: "
                          f"{' '.join(str(exc).split())[:200]})") from None


def describe_storage(url: str | None, study: str, results_dir: str | Path = DEFAULT_RESULTS) -> str:
    """A printable storage location with any password masked."""
    return str(default_storage_path(study, results_dir)) if url is None else mask_url(url)


def mask_url(url: str) -> str:
    """``postgresql://u:secret@h/db`` -> ``postgresql://u:***@h/db``: never print a password."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def _journal(path: Path) -> JournalStorage:
    path.parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(path)))


def load_existing_study(study: str, url: str | None = None,
                        results_dir: str | Path = DEFAULT_RESULTS) -> optuna.Study:
    """Load a study that a search created; a missing one is a one-line error naming where we looked."""
    where = describe_storage(url, study, results_dir)
    if url is None and not default_storage_path(study, results_dir).is_file():
        raise ConfigError(f"no study '{study}' at {where}; run `cnn-search run SPACE.toml` first "
                          "or name its storage with --storage")
    storage = open_storage(url, study, results_dir)
    try:
        return optuna.load_study(study_name=study, storage=storage)
    except KeyError:
        known = ", ".join(optuna.get_all_study_names(storage)) or "none"
        raise ConfigError(f"no study '{study}' in {where}; studies there: {known}") from None
