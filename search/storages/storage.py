"""Where studies live.

By default a study is an Optuna journal file under ``results/<study>/``: no
server, safe for several local processes appending at once (unlike SQLite,
which reports "database is locked" under concurrent writers). Any Optuna RDB
URL (``postgresql://...``, ``sqlite:///...``) selects a database instead; a
PostgreSQL server is how workers on several hosts share one study, reached
through psycopg 3 whatever SQLAlchemy's default driver (:func:`with_driver`).
Both kinds carry heartbeats, so a trial whose worker died is noticed (see
:mod:`search.execution.recovery`). A password in a URL is never printed:
every message that shows a URL, or an error text that might quote it, goes
through :func:`mask_url`.

Storage faults are either absorbed or one clear line, never a lost record.
A journal write that fails (a full disk, a read-only directory) is undone
to the last whole record and raised as :class:`~search.errors.StorageError`;
a record cut off by a crash or power loss is moved aside, under the
journal's lock, before the next append, so that it cannot swallow the next
record (:class:`SafeJournalFileBackend`). A database connection lost to a
server restart is re-established and the query retried for up to
:data:`RECONNECT_WINDOW` seconds (:class:`ReconnectingRDBStorage`).
"""

from __future__ import annotations

import difflib
import functools
import os
import re
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import optuna
from optuna.storages import BaseStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend, JournalFileSymlinkLock

from ..compat import RDB_BACKEND_PRIVATE_CALLS
from ..errors import ConfigError, StorageError
from .heartbeat import Heartbeat, HeartbeatJournalStorage, fix_heartbeat, heartbeat_note, stored_heartbeat

DEFAULT_RESULTS = Path("results")
JOURNAL_NAME = "study.journal"
TORN_SUFFIX = ".torn"  # where a journal's cut-off last record is kept
RECONNECT_WINDOW = 60.0  # seconds a lost database connection is retried before the search stops
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
            return ReconnectingRDBStorage(with_driver(url), heartbeat_interval=heartbeat.interval,
                                          grace_period=heartbeat.grace,
                                          engine_kwargs={"pool_pre_ping": True})
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
    return HeartbeatJournalStorage(SafeJournalFileBackend(path), heartbeat)


def journal_error(path: Path, exc: OSError) -> str:
    """``cannot write the study journal PATH: No space left on device``, with what to do about it."""
    hint = {28: "free some space", 30: "the filesystem is read-only", 13: "the directory is not writable",
            27: "the file reached its size limit"}.get(exc.errno or 0, "check the path")
    return (f"cannot write the study journal {path}: {exc.strerror or exc} ({hint}; choose another place with "
            "--results-dir or --storage PATH.journal, or fix it and run the same command again)")


class SafeJournalFileBackend(JournalFileBackend):
    """Optuna's journal file, with writes that are whole records or nothing.

    Optuna appends each record as one JSON line and skips a last line that
    lacks its newline, but the next append lands after that fragment: the two
    form one undecodable line, the new record is silently lost and once
    another follows the whole journal fails to load. Here every append (under
    the journal's lock, so no other writer is half-way) first moves such a
    fragment to ``study.journal.torn``; it was never acknowledged (its writer
    died or failed before ``fsync`` returned), so nothing recorded is lost. A
    failed write (a full disk, a size limit) is cut back to the last whole
    record and raised as :class:`StorageError`, one line saying what to fix.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.lock = JournalFileSymlinkLock(str(self.path))  # Optuna's default lock, kept to take it here
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            super().__init__(str(self.path), lock_obj=self.lock)
        except OSError as exc:
            raise StorageError(journal_error(self.path, exc)) from None

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        import json

        data = "".join(json.dumps(log, separators=(",", ":")) + "\n" for log in logs).encode("utf-8")
        try:
            self.lock.acquire()
        except OSError as exc:  # the lock is a file beside the journal: a read-only or full directory
            raise StorageError(journal_error(self.path, exc)) from None
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND)
            try:
                self._append(fd, data)
            finally:
                os.close(fd)
        except OSError as exc:
            raise StorageError(journal_error(self.path, exc)) from None
        finally:
            self.lock.release()

    def _append(self, fd: int, data: bytes) -> None:
        size = self._drop_torn_tail(fd, os.fstat(fd).st_size)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        except OSError:
            os.ftruncate(fd, size)  # nothing half-written: the journal ends with its last whole record
            raise

    def _drop_torn_tail(self, fd: int, size: int) -> int:
        """Move a last record without its newline to the ``.torn`` file; returns the journal's new size."""
        if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
            return size
        start = size
        while start > 0:
            chunk_start = max(start - 65536, 0)
            chunk = os.pread(fd, start - chunk_start, chunk_start)
            cut = chunk.rfind(b"\n")
            if cut >= 0:
                start = chunk_start + cut + 1
                break
            start = chunk_start
        fragment = os.pread(fd, size - start, start)
        torn = self.path.with_name(self.path.name + TORN_SUFFIX)
        with open(torn, "ab") as fh:
            fh.write(fragment + b"\n")
        os.ftruncate(fd, start)
        print(f"cnn-search: {self.path} ended in a cut-off record ({len(fragment)} bytes, from a crash, a power "
              f"loss or a full disk; never acknowledged); moved to {torn}, every whole record kept",
              file=sys.stderr, flush=True)
        return start


class ReconnectingRDBStorage(RDBStorage):
    """Optuna's RDB storage that survives a database restart.

    Connections are checked before use (``pool_pre_ping``), so those a
    restart closed are replaced; a query that fails because the server is
    unreachable is retried, with growing pauses, for :data:`RECONNECT_WINDOW`
    seconds. Longer than that the search stops with a one-line
    :class:`StorageError`: finished trials are in the database and the
    running one is recovered when the study resumes.
    """

    reconnect_window: float = RECONNECT_WINDOW


def _retrying(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(self: ReconnectingRDBStorage, *args: Any, **kwargs: Any) -> Any:
        if getattr(_retry_state, "active", False):  # an inner call: the outer one retries
            return method(self, *args, **kwargs)
        _retry_state.active = True
        try:
            return _with_reconnect(self, method, args, kwargs)
        finally:
            _retry_state.active = False

    return call


_retry_state = threading.local()


def _with_reconnect(storage: ReconnectingRDBStorage, method: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    deadline = time.monotonic() + storage.reconnect_window
    pause = 0.5
    while True:
        try:
            return method(storage, *args, **kwargs)
        except Exception as exc:
            if not _connection_lost(exc):
                raise
            detail = mask_text(" ".join(str(_root(exc)).split()), storage.url)[:200]
            if time.monotonic() + pause > deadline:
                raise StorageError(f"the database {mask_url(storage.url)} stayed unreachable for "
                                   f"{storage.reconnect_window:g} s ({type(_root(exc)).__name__}: {detail}); "
                                   "finished trials are saved: run the same command again once it is back") from None
            print(f"cnn-search: lost the database connection ({detail}); retrying for up to "
                  f"{storage.reconnect_window:g} s", file=sys.stderr, flush=True)
            time.sleep(pause)
            pause = min(pause * 2, 5.0)


def _connection_lost(exc: BaseException) -> bool:
    """True if ``exc`` (or what it was raised from) is the database connection failing, not a bad query."""
    from sqlalchemy import exc as sa

    return any(isinstance(e, (sa.OperationalError, sa.InterfaceError))
               or (isinstance(e, sa.DBAPIError) and e.connection_invalidated) for e in _chain(exc))


def _root(exc: BaseException) -> BaseException:
    return list(_chain(exc))[-1]


for _name in sorted({n for n in dir(BaseStorage) if not n.startswith("_")} | {"record_heartbeat"}
                    | set(RDB_BACKEND_PRIVATE_CALLS)):
    if callable(getattr(RDBStorage, _name, None)):
        setattr(ReconnectingRDBStorage, _name, _retrying(getattr(RDBStorage, _name)))


def load_existing_study(study: str, url: str | None = None, results_dir: str | Path = DEFAULT_RESULTS,
                        heartbeat: int | None = None, stream: Any = None) -> optuna.Study:
    """Load a study that a search created; a missing one is a one-line error naming where we looked.

    The storage beats with the study's heartbeat (:func:`adopt_heartbeat`);
    ``heartbeat``, a ``--heartbeat`` the user gave, only serves studies older
    than that setting.
    """
    where = describe_storage(url, study, results_dir)
    journal = default_storage_path(study, results_dir) if url is None else None if "://" in url else Path(url)
    if url is None and journal is not None and not journal.is_file():
        known = journal_studies(results_dir)
        raise ConfigError(f"no study '{study}' at {where}{_did_you_mean(study, known)}; studies in {results_dir}: "
                          f"{', '.join(known) or 'none'} (`cnn-search run SPACE.toml` creates one; --storage names "
                          "another storage)")
    if journal is not None and not journal.is_file():
        raise ConfigError(f"no study '{study}' at {where}; run `cnn-search run SPACE.toml` first "
                          "or name its storage with --storage")
    storage = open_storage(url, study, results_dir, Heartbeat(heartbeat) if heartbeat else None)
    try:
        loaded = optuna.load_study(study_name=study, storage=storage)
    except KeyError:
        names = optuna.get_all_study_names(storage)
        raise ConfigError(f"no study '{study}' in {where}{_did_you_mean(study, names)}; studies there: "
                          f"{', '.join(names) or 'none'}") from None
    adopt_heartbeat(storage, loaded, heartbeat, stream=stream)
    return loaded


def journal_studies(results_dir: str | Path = DEFAULT_RESULTS) -> list[str]:
    """The studies kept as journal files in ``results_dir`` (``<study>/study.journal``), by name."""
    root = Path(results_dir)
    if not root.is_dir():
        return []
    return sorted(path.parent.name for path in root.glob(f"*/{JOURNAL_NAME}") if path.is_file())


def _did_you_mean(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def adopt_heartbeat(storage: BaseStorage, study: optuna.Study, asked: int | None, *, create: bool = False,
                    stream: Any = None) -> Heartbeat:
    """Make ``storage`` beat and judge with the study's heartbeat; returns it.

    ``create``: a study without one (just created) stores ``asked`` (default
    10 s). A ``--heartbeat`` that differs from the study's is ignored with a
    note: workers that judged silence by their own setting would fail each
    other's live trials.
    """
    requested = Heartbeat(asked) if asked is not None else Heartbeat()
    used = fix_heartbeat(study, requested) if create else stored_heartbeat(study) or requested
    note = heartbeat_note(asked, used)
    if note:
        print(note, file=stream or sys.stderr, flush=True)
    if isinstance(storage, HeartbeatJournalStorage):
        storage.heartbeat = used
    elif isinstance(storage, RDBStorage):  # the storage we opened, inside Optuna's caching wrapper
        storage.heartbeat_interval, storage.grace_period = used.interval, used.grace
    return used
