"""Local worker processes for ``cnn-search run --workers N``.

Each worker is a ``cnn-search worker`` process, the same program a user
starts by hand on another host, pinned to its slot through its environment
and logging to its own file. The storage URL travels in the environment
(``CNN_SEARCH_STORAGE``), not on the command line, so a password in it does
not show in ``ps``. Workers run in their own sessions: a Ctrl-C at the
terminal reaches only this process, which passes exactly one SIGINT to each
worker so that each re-queues its trial once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..runtime import STORAGE_ENV
from .devices import Slot, device_env


@dataclass(frozen=True)
class PoolConfig:
    """What every worker of the pool is told besides its slot."""

    study: str
    storage: str  # a URL or a journal path; passed in the environment
    results_dir: Path
    log_dir: Path
    data_dir: Path | None = None
    timeout: float | None = None
    heartbeat: int | None = None


@dataclass
class WorkerProcess:
    index: int
    slot: Slot
    log: Path
    proc: subprocess.Popen
    reported: bool = False

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
        for index, slot in enumerate(self.slots, start=1):
            log = self.config.log_dir / f"worker-{index}.log"
            with open(log, "ab") as fh:
                proc = subprocess.Popen(self.command(slot), stdin=subprocess.DEVNULL, stdout=fh,
                                        stderr=subprocess.STDOUT, env=self.environment(slot), start_new_session=True)
            self.workers.append(WorkerProcess(index, slot, log, proc))
        return self.workers

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
        if c.heartbeat is not None:
            cmd += ["--heartbeat", str(c.heartbeat)]
        return cmd

    def environment(self, slot: Slot) -> dict[str, str]:
        return {**os.environ, **device_env(slot), STORAGE_ENV: self.config.storage, "PYTHONUNBUFFERED": "1"}

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

    def interrupt(self, grace: float = 60.0) -> None:
        """SIGINT each worker once, wait for them to re-queue their trials; kill stragglers."""
        for w in self.workers:
            if w.proc.poll() is None:
                w.proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + grace
        for w in self.workers:
            try:
                w.proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                w.proc.kill()
                w.proc.wait()


def exit_description(worker: WorkerProcess) -> str:
    """``worker 2 (...) exited with status 1; last log line: ...; log: PATH``."""
    code = worker.proc.returncode
    if code == 0:
        return f"{worker.describe()} finished"
    if code is not None and code < 0:
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

