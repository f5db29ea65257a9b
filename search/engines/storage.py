"""Where studies live.

By default a study is an Optuna journal file under ``results/<study>/``: no
server, safe for several local processes appending at once (unlike SQLite,
which reports "database is locked" under concurrent writers). Any Optuna RDB
URL (``postgresql://...``, ``sqlite:///...``) selects a database instead; a
PostgreSQL server is how workers on several hosts share one study, reached
through psycopg 3 whatever SQLAlchemy's default driver (:func:`with_driver`).
Both kinds carry heartbeats, so a trial whose worker died is noticed (see
:mod:`.recovery`). A password in a URL is never printed: every message that
shows a URL, or an error text that might quote it, goes through
:func:`mask_url`.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import optuna
from optuna.storages import BaseStorage
from optuna.storages.journal import JournalFileBackend

from ..errors import ConfigError
from .heartbeat import Heartbeat, HeartbeatJournalStorage

DEFAULT_RESULTS = Path("results")
JOURNAL_NAME = "study.journal"
PSYCOPG_MODULES = ("psycopg", "psycopg_binary", "psycopg_c")  # psycopg 3, what `with_driver` selects


def default_storage_path(study: str, results_dir: str | Path = DEFAULT_RESULTS) -> Path:
    return Path(results_dir) / study / JOURNAL_NAME


def open_storage(url: str | None, study: str, results_dir: str | Path = DEFAULT_RESULTS,
                 heartbeat: Heartbeat | None = None) -> BaseStorage:
    """An Optuna storage for ``url``; ``None`` or a ``.journal``/``.log`` path means a journal file."""
    heartbeat = heartbeat or Heartbeat()
    if url is None:
        return _journal(default_storage_path(study, results_dir), heartbeat)
    if "://" not in url:
        if url.endswith((".journal", ".log")):
            return _journal(Path(url), heartbeat)
        raise ConfigError(f"--storage {mask_url(url)!r}: expected an Optuna database URL "
                          "(postgresql://..., sqlite:///...) or a path ending in .journal")
    try:
        with warnings.catch_warnings():  # heartbeat_interval is "experimental" since Optuna 2.9
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(with_driver(url), heartbeat_interval=heartbeat.interval,
                                              grace_period=heartbeat.grace)
    except Exception as exc:  # driver missing, server down, bad URL: all the user's to fix
        raise ConfigError(f"--storage {mask_url(url)}: cannot open ({_driver_hint(exc)}"
                          f"{type(exc).__name__}: {mask_text(' '.join(str(exc).split()), url)[:300]})") from None


def describe_storage(url: str | None, study: str, results_dir: str | Path = DEFAULT_RESULTS) -> str:
    """A printable storage location with any password masked."""
    return str(default_storage_path(study, results_dir)) if url is None else mask_url(url)


def mask_url(url: str) -> str:
    """``postgresql://u:secret@h/db`` -> ``postgresql://u:***@h/db``: never print a password."""
    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)


def mask_text(text: str, url: str | None) -> str:
    """``text`` with ``url``'s password (plain or %-encoded) replaced, wherever it appears."""
    text = re.sub(r"(://[^:/@\s]*:)[^@/\s]*@", r"\1***@", text)
    password = urlsplit(url).password if url and "://" in url else None
    if password:
        for form in {password, unquote(password), quote(password, safe="")}:
            text = text.replace(form, "***")
    return text


def with_driver(url: str) -> str:
    """``postgresql://`` -> ``postgresql+psycopg://``: the driver we install, whatever SQLAlchemy's default.

    SQLAlchemy 2.0 maps a bare ``postgresql://`` to psycopg2 and 2.1 to
    psycopg 3; naming the driver makes the URL users write work with both.
    """
    scheme, sep, rest = url.partition("://")
    return f"postgresql+psycopg{sep}{rest}" if scheme in ("postgresql", "postgres") else url


def _driver_hint(exc: BaseException) -> str:
    """Say which driver module failed to import: Optuna's own message names none."""
    failures = [e for e in _chain(exc) if isinstance(e, ImportError)]
    if not failures:
        return ""
    missing = next((e.name for e in failures if e.name), None)
    if missing is None:
        return f"a database driver cannot be imported: {failures[-1]}; "
    install = " (pip install 'psycopg[binary]')" if missing.split(".")[0] in PSYCOPG_MODULES else ""
    return f"the database driver module {missing!r} cannot be imported{install}; "


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    """``exc`` and the exceptions it was raised from or during."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _journal(path: Path, heartbeat: Heartbeat) -> HeartbeatJournalStorage:
    path.parent.mkdir(parents=True, exist_ok=True)
    return HeartbeatJournalStorage(JournalFileBackend(str(path)), heartbeat)


def load_existing_study(study: str, url: str | None = None, results_dir: str | Path = DEFAULT_RESULTS,
                        heartbeat: Heartbeat | None = None) -> optuna.Study:
    """Load a study that a search created; a missing one is a one-line error naming where we looked."""
    where = describe_storage(url, study, results_dir)
    journal = default_storage_path(study, results_dir) if url is None else None if "://" in url else Path(url)
    if journal is not None and not journal.is_file():
        raise ConfigError(f"no study '{study}' at {where}; run `cnn-search run SPACE.toml` first "
                          "or name its storage with --storage")
    storage = open_storage(url, study, results_dir, heartbeat)
    try:
        return optuna.load_study(study_name=study, storage=storage)
    except KeyError:
        known = ", ".join(optuna.get_all_study_names(storage)) or "none"
        raise ConfigError(f"no study '{study}' in {where}; studies there: {known}") from None
