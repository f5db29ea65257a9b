"""Local worker processes for ``cnn-search run --workers N``.

Each worker is a ``cnn-search worker`` process, the same program a user
starts by hand on another host, pinned to its slot through its environment
and logging to its own file. The storage URL travels in the environment
(``CNN_SEARCH_STORAGE``), not on the command line, so a password in it does
not show in ``ps``. Workers run in their own sessions: a Ctrl-C at the
terminal reaches only this process, which passes exactly one SIGINT to each
worker so that each re-queues its trial once. A worker whose trial hung is
replaced by a fresh process on its slot (see :func:`kill_wedged`).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import EXIT_HUNG
from ..runtime import STORAGE_ENV
from .devices import Slot, device_env, unhidden_env

if TYPE_CHECKING:
    import optuna


@dataclass(frozen=True)
class PoolConfig:
    """What every worker of the pool is told besides its slot."""

    study: str
    storage: str  # a URL or a journal path; passed in the environment
    results_dir: Path
    log_dir: Path
    data_dir: Path | None = None
    timeout: float | None = None


@dataclass
class WorkerProcess:
    index: int
    slot: Slot
    log: Path
    proc: subprocess.Popen
    reported: bool = False
    killed_hung: bool = False  # killed by the pool because its trial ran past the time limit
    killed_stopping: bool = False  # killed by the pool while stopping (a second Ctrl-C, or past the grace)

    @property
    def hung(self) -> bool:
        """True once the process ended because its trial hung (by itself, or killed by the pool)."""
        return self.killed_hung or self.proc.returncode == EXIT_HUNG

    def describe(self) -> str:
        threads = f", {self.slot.threads} thread{'s' if self.slot.threads != 1 else ''}" if self.slot.threads else ""
        return f"worker {self.index} (pid {self.proc.pid}, {self.slot.device}{threads})"


@dataclass
class LocalPool:
    """Starts, watches and stops the worker processes of one study on this host."""

    config: PoolConfig
    slots: list[Slot]
    workers: list[WorkerProcess] = field(default_factory=list)

    def start(self) -> list[WorkerProcess]:
        self.config.log_dir.mkdir(parents=True, exist_ok=True)
        for slot in self.slots:
            self._spawn(slot)
        return self.workers

    def replace(self, worker: WorkerProcess) -> WorkerProcess:
        """A fresh process on ``worker``'s slot (its GPU memory was freed when it ended)."""
        return self._spawn(worker.slot)

    def _spawn(self, slot: Slot) -> WorkerProcess:
        index = len(self.workers) + 1
        log = self.config.log_dir / f"worker-{index}.log"
        with open(log, "ab") as fh:
            proc = subprocess.Popen(self.command(slot), stdin=subprocess.DEVNULL, stdout=fh,
                                    stderr=subprocess.STDOUT, env=self.environment(slot), start_new_session=True)
        worker = WorkerProcess(index, slot, log, proc)
        self.workers.append(worker)
        return worker

    def command(self, slot: Slot) -> list[str]:
        c = self.config
        cmd = [sys.executable, "-m", "search", "worker", c.study, "--device", slot.device,
               "--results-dir", str(c.results_dir)]
        if slot.gpu is not None:  # the worker caps its own memory to its part of the card
            cmd += ["--trials-per-gpu", str(slot.share)]
        if slot.threads is not None:
            cmd += ["--threads", str(slot.threads)]
        if c.data_dir is not None:
            cmd += ["--data-dir", str(c.data_dir)]
        if c.timeout is not None:
            cmd += ["--timeout", str(c.timeout)]
        return cmd

    def environment(self, slot: Slot) -> dict[str, str]:
        return {**unhidden_env(), **device_env(slot), STORAGE_ENV: self.config.storage, "PYTHONUNBUFFERED": "1"}

    def running(self) -> bool:
        return any(w.proc.poll() is None for w in self.workers)

    def newly_exited(self) -> list[WorkerProcess]:
        """Workers that ended since the last call (each reported once)."""
        out = []
        for w in self.workers:
            if not w.reported and w.proc.poll() is not None:
                w.reported = True
                out.append(w)
        return out

    def interrupt(self, grace: float = 60.0, hurry: Callable[[], bool] = lambda: False) -> None:
        """SIGINT each worker once and wait for them to re-queue their trials; kill those still running after
        ``grace`` seconds, or as soon as ``hurry()`` says so (a second Ctrl-C).

        Waiting polls rather than blocks in ``Popen.wait()``, so that the caller's
        second Ctrl-C is seen while the workers finish.
        """
        for w in self.workers:
            if w.proc.poll() is None:
                w.proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + grace
        while self.running() and time.monotonic() < deadline and not hurry():
            time.sleep(0.1)
        for w in self.workers:
            if w.proc.poll() is None:
                w.proc.kill()
                w.killed_stopping = True
                w.proc.wait()


def kill_wedged(pool: LocalPool, study: optuna.Study, grace: int) -> Iterator[tuple[WorkerProcess, int]]:
    """SIGKILL each live worker whose trial ran past the study's time limit plus ``grace``; yields (worker, trial).

    A worker's own watchdog ends it at the limit; one still running ``grace``
    seconds later is stuck where even that thread cannot run (a C call that
    holds the interpreter lock), and only another process can end it. Its
    trial is failed as timed out (unless another worker already did) and the
    pool replaces the process once it has exited.
    """
    from ..execution.recovery import TIMED_OUT_ATTR, WORKER_ATTR, fail_and_retry, seconds_since, timeout_reason
    from ..execution.settings import recovery_settings

    limit = recovery_settings(study).trial_timeout
    if limit is None:
        return
    by_owner = {t.user_attrs.get(WORKER_ATTR): t for t in study.get_trials(deepcopy=False)}  # latest per owner
    host = socket.gethostname()
    for worker in pool.workers:
        trial = by_owner.get(f"{host}:{worker.proc.pid}")
        if worker.proc.poll() is not None or worker.killed_hung or trial is None:
            continue
        overdue = trial.state.name == "RUNNING" and seconds_since(trial) > limit + grace
        abandoned = trial.user_attrs.get(TIMED_OUT_ATTR) and trial.datetime_complete is not None and \
            time.time() - trial.datetime_complete.timestamp() > grace
        if not (overdue or abandoned):
            continue
        if overdue:
            fail_and_retry(study, trial, timeout_reason(limit, "its worker process was stuck and was killed"),
                           **{TIMED_OUT_ATTR: True})
        worker.proc.kill()
        worker.killed_hung = True
        yield worker, trial.number


def exit_description(worker: WorkerProcess) -> str:
    """``worker 2 (...) exited with status 1; last log line: ...; log: PATH``."""
    code = worker.proc.returncode
    if code == 0:
        return f"{worker.describe()} finished"
    if code == EXIT_HUNG:
        what = "stopped its trial at the per-trial time limit and exited (status 3) to be replaced"
    elif worker.killed_hung:
        what = "was killed because its trial hung; its trial is failed and re-queued"
    elif worker.killed_stopping:
        what = "was killed while stopping; a trial it left running is failed and re-queued when the study resumes"
    elif code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        what = f"was killed by {name}; its running trial is failed and re-queued for another worker"
    else:
        what = f"exited with status {code}"
    last = _last_line(worker.log)
    return f"{worker.describe()} {what}" + (f"; last log line: {last}" if last else "") + f"; log: {worker.log}"


def _last_line(path: Path) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(fh.tell() - 4096, 0))
            lines = [ln for ln in fh.read().decode(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1].strip()[:300] if lines else ""

