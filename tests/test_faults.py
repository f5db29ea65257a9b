"""Fault tolerance to the last trial (issue 14), on the real journal file and the throwaway PostgreSQL.

Interrupted retries, one heartbeat per study, liveness across containers, hung
trials, and storage faults: a full disk, a read-only directory, a record cut
off by a power loss, a database restarted mid-search. Each test makes the
fault happen for real and checks that nothing recorded is lost.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState
from test_workers import MEMORY_SPACE

from search.compat import study_storage, trial_id
from search.execution.recovery import WORKER_ATTR, recover
from search.spaces import validate_space_dict
from search.storages import Heartbeat, open_storage
from search.storages.heartbeat import beat_once, beating
from search.study import open_study
from search.study.queue import claim, planned_params, top_up

# test_workers' one-epoch space on 500 images, as a grid over filters_1 = {values}
TINY_GRID = MEMORY_SPACE.replace('study = "memory"', 'study = "{study}"').replace(
    'filters_1 = { type = "int", low = 2, high = 12 }', "filters_1 = {values}").replace(
    'sampler = "random"\nn_trials = 30', 'sampler = "grid"').replace("subset = 400", "subset = 500")


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "search", *args]


def env(data_dir: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "CNN_SEARCH_DATA": str(data_dir), "PYTHONUNBUFFERED": "1", **extra}


def write_space(tmp_path: Path, study: str, values: str = "[4, 8]") -> Path:
    path = tmp_path / f"{study}.toml"
    path.write_text(TINY_GRID.format(study=study, values=values))
    return path


def storage_url(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue("pg_url") if kind == "postgres" else str(tmp_path / "study.journal")


def grid_space(study: str, values: list[int], **extra: object) -> object:
    return validate_space_dict({"study": study, "variant": "cnn", "engine": "optuna", "fixed": {"blocks": 1},
                                "search": {"filters_1": values}, "optuna": {"sampler": "grid"}, **extra})


def die_silently(study: optuna.Study) -> optuna.trial.FrozenTrial:
    """Claim the next ticket as a worker on another host that beats once and then is never heard of again."""
    trial = claim(study)
    trial.set_user_attr(WORKER_ATTR, "lost-host:4242")
    beat_once(study_storage(study), trial_id(trial))
    return study_storage(study).get_trial(trial_id(trial))


def load(study: str, url: str) -> optuna.Study:
    return optuna.load_study(study_name=study, storage=open_storage(url, study))


# --- 1. an interrupt re-queues, whatever the trial retries; only deaths count against the limit ------------


@pytest.mark.smoke
@pytest.mark.parametrize("kind", ["journal", "postgres"])
def test_an_interrupted_retry_is_queued_again(kind, tmp_path, request):
    from search.execution.loop import work

    url = storage_url(kind, tmp_path, request)
    space = grid_space("retry-int", [4])
    study = open_study(space, open_storage(url, "retry-int", tmp_path, Heartbeat(interval=1, grace_factor=1)))
    top_up(study, space)
    first = die_silently(study)
    time.sleep(1.5)  # silent for longer than the grace period: a death
    assert recover(study) == [first.number]
    calls = []

    def objective(trial: optuna.Trial) -> float:
        calls.append(trial.number)
        trial.suggest_categorical("filters_1", [4])
        if len(calls) == 1:  # the retry is running when the user presses Ctrl-C
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(10)
        return 0.5

    # Ctrl-C raises KeyboardInterrupt here even if pytest was started with SIGINT ignored (in the background)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            work(study, objective)
    finally:
        signal.signal(signal.SIGINT, previous)
    retry = study.trials[calls[0]]
    assert retry.user_attrs["retry_of"] == first.number and retry.state == TrialState.FAIL
    assert retry.user_attrs["interrupted"] and "interrupted" in retry.user_attrs["reason"]
    waiting = study.get_trials(states=(TrialState.WAITING,))
    assert [planned_params(t) for t in waiting] == [{"filters_1": 4}], "the interrupted retry is queued again"
    assert work(study, objective) == 1
    done = study.get_trials(states=(TrialState.COMPLETE,))
    assert [t.params for t in done] == [{"filters_1": 4}] and len(study.trials) == 3


@pytest.mark.smoke
@pytest.mark.parametrize("kind", ["journal", "postgres"])
def test_deaths_are_retried_up_to_the_studys_max_retries(kind, tmp_path, request):
    from search.execution.settings import recovery_settings, store_recovery

    url = storage_url(kind, tmp_path, request)
    space = grid_space("retry-max", [4], recovery={"max_retries": 2})
    study = open_study(space, open_storage(url, "retry-max", tmp_path, Heartbeat(interval=1, grace_factor=1)))
    top_up(study, space)
    store_recovery(study, space)
    assert recovery_settings(load("retry-max", url)).max_retries == 2, "stored in the study for every worker"
    chain = []
    for _ in range(3):
        chain.append(die_silently(study))
        time.sleep(1.5)
        assert recover(study) == [chain[-1].number]
    trials = study.trials
    assert [trials[t.number].state for t in chain] == [TrialState.FAIL] * 3
    assert [trials[t.number].user_attrs.get("deaths", 0) for t in chain] == [0, 1, 2]
    assert "not retried" in trials[chain[-1].number].user_attrs["reason"]
    assert "max_retries = 2" in trials[chain[-1].number].user_attrs["reason"]
    assert not study.get_trials(states=(TrialState.WAITING,)), "a third death is not retried"
    assert "not retried" not in trials[chain[1].number].user_attrs["reason"]


# --- 2. one heartbeat per study -----------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["journal", "postgres"])
def test_a_worker_with_a_shorter_heartbeat_does_not_fail_a_live_trial(kind, tmp_path, data_dir, request):
    url = storage_url(kind, tmp_path, request)
    from search.runner import RunOptions, resolve_space, run_search

    options = RunOptions(storage=url, workers=0, heartbeat=6, data_dir=data_dir, results_dir=tmp_path)
    run_search(resolve_space(write_space(tmp_path, "beats", "[4]"), options), options)  # `run --workers 0`
    study = optuna.load_study(study_name="beats", storage=open_storage(url, "beats", tmp_path, Heartbeat(6)))
    trial = claim(study)  # a worker elsewhere runs the only trial, beating every 6 s as the study says
    trial.set_user_attr(WORKER_ATTR, "other-host:77")
    with beating(study_storage(study), trial_id(trial)):
        # ... while a worker started with --heartbeat 1 (grace 5 s) waits for it
        worker = subprocess.Popen(cli("worker", "beats", "--storage", url, "--heartbeat", "1", "--device", "cpu"),
                                  stderr=subprocess.PIPE, text=True, env=env(data_dir))
        seen = []
        for line in worker.stderr:
            seen.append(line)
            if "queue empty; waiting" in line:
                break
        time.sleep(9)  # silences of 6 s: longer than the worker's own grace, shorter than the study's
        assert worker.poll() is None
    study.tell(trial, 0.5)
    _, rest = worker.communicate(timeout=120)
    stderr = "".join(seen) + rest
    assert worker.returncode == 0, stderr
    assert study.trials[trial.number].state == TrialState.COMPLETE, study.trials[trial.number].user_attrs
    assert "--heartbeat 1 ignored: this study's workers beat every 6 s" in stderr
    assert len(study.trials) == 1, "nothing failed, nothing re-queued"


# --- 3. liveness across containers that share a hostname ---------------------------------------------------


@pytest.mark.smoke
@pytest.mark.parametrize("kind", ["journal", "postgres"])
def test_a_worker_in_another_pid_namespace_with_our_hostname_is_left_to_its_heartbeat(kind, tmp_path, request):
    from search.execution.recovery import HOST_ATTR, host_identity

    url = storage_url(kind, tmp_path, request)
    space = grid_space("ns", [4, 8])
    study = open_study(space, open_storage(url, "ns", tmp_path, Heartbeat(interval=30)))
    top_up(study, space)
    dead_pid = _unused_pid()
    boot = host_identity().split("/")[0]
    for namespace in ("pid:[4026530000]", host_identity().split("/")[1]):
        trial = claim(study)
        trial.set_user_attr(WORKER_ATTR, f"{socket.gethostname()}:{dead_pid}")
        trial.set_user_attr(HOST_ATTR, f"{boot}/{namespace}")
        beat_once(study_storage(study), trial_id(trial))
    other_container, same_host = study.trials[0].number, study.trials[1].number
    assert recover(study) == [same_host], "only a worker in our own PID namespace is judged by its PID"
    assert study.trials[other_container].state == TrialState.RUNNING
    assert "its process is gone" in study.trials[same_host].user_attrs["reason"]


def _unused_pid() -> int:
    """A pid no process has: one of a child that has exited and been reaped."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


# --- 4. a hung trial is failed at its time limit and its worker process replaced ---------------------------


@pytest.mark.slow
@pytest.mark.parametrize("kind,hang", [("journal", "lock"), ("postgres", "lock"), ("journal", "gil")])
def test_a_hung_trial_is_failed_at_its_time_limit_and_its_worker_replaced(kind, hang, tmp_path, data_dir, request):
    """``lock``: a deadlock, ended by the worker's own watchdog; ``gil``: a C call holding the interpreter
    lock, so even the watchdog is stuck and the pool kills the process."""
    url = storage_url(kind, tmp_path, request)
    space = write_space(tmp_path, "hang")
    hook = env(data_dir, PYTHONPATH=str(Path(__file__).parent / "hanghook"), CNN_SEARCH_TEST_HANG=hang,
               CNN_SEARCH_TEST_HANG_MARKER=str(tmp_path / "hung-once"))
    started = time.monotonic()
    result = subprocess.run(cli("run", str(space), "--workers", "1", "--trial-timeout", "20", "--heartbeat", "1",
                                "--storage", url, "--results-dir", str(tmp_path)),
                            capture_output=True, text=True, timeout=400, env=hook)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "hung-once").exists(), "a trial did hang"
    study = load("hang", url)
    hung = [t for t in study.trials if t.user_attrs.get("timed_out")]
    assert len(hung) == 1 and hung[0].state == TrialState.FAIL
    assert "ran past the per-trial time limit of 20 s (trial_timeout)" in hung[0].user_attrs["reason"]
    retry = [t for t in study.trials if t.user_attrs.get("retry_of") == hung[0].number]
    assert len(retry) == 1 and retry[0].state == TrialState.COMPLETE
    assert planned_params(retry[0]) == planned_params(hung[0])
    done = sorted(t.params["filters_1"] for t in study.get_trials(states=(TrialState.COMPLETE,)))
    assert done == [4, 8], "every grid point, once"
    stopped = "exited (status 3) to be replaced" if hang == "lock" else "was killed because its trial hung"
    assert stopped in result.stderr and "replaced it with worker 2" in result.stderr, result.stderr
    assert time.monotonic() - started < 300


# --- 5. storage faults ----------------------------------------------------------------------------------------

RANDOM_SPACE = MEMORY_SPACE.replace('study = "memory"', 'study = "{study}"').replace("n_trials = 30", "n_trials = 2")
RANDOM_SPACE = RANDOM_SPACE.replace("{ type", "{{ type").replace("12 }", "12 }}")


class Disk:
    """A directory that can be filled up or made read-only for real.

    As root (CI, this machine) it is a small tmpfs of its own; otherwise a
    full disk is a file-size limit on the process that writes
    (``RLIMIT_FSIZE``) and a read-only directory is one without write
    permission.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.path.mkdir()
        self.root = os.geteuid() == 0
        self.limit: int | None = None
        if self.root:
            subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(path)], check=True)

    def fill(self, journal: Path, leave: int) -> None:
        """Leave about ``leave`` bytes for the journal to grow by."""
        if not self.root:
            self.limit = journal.stat().st_size + leave
            return
        with open(self.path / "filler", "wb", buffering=0) as fh:
            try:
                while True:
                    fh.write(b"\0" * 4096)
            except OSError:
                pass
        with open(self.path / "filler", "r+b") as fh:
            fh.truncate(max(os.path.getsize(self.path / "filler") - leave, 0))

    def free(self) -> None:
        (self.path / "filler").unlink(missing_ok=True)
        self.limit = None

    def read_only(self) -> None:
        if self.root:
            subprocess.run(["mount", "-o", "remount,ro", str(self.path)], check=True)
        else:
            for d in (self.path, *[p for p in self.path.rglob("*") if p.is_dir()]):
                d.chmod(0o555)

    def preexec(self) -> None:
        """In the child: the file-size limit (a write past it fails with EFBIG instead of killing the process)."""
        if self.limit is not None:
            import resource

            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (self.limit, self.limit))

    def close(self) -> None:
        if self.root:
            subprocess.run(["umount", "-l", str(self.path)], check=False)
        else:
            for d in (self.path, *[p for p in self.path.rglob("*") if p.is_dir()]):
                d.chmod(0o755)


@pytest.fixture
def disk(tmp_path):
    d = Disk(tmp_path / "disk")
    yield d
    d.close()


def run_in_process(space: Path, results: Path, data_dir: Path, n_trials: int | None = None) -> optuna.Study:
    from search.runner import RunOptions, resolve_space, run_search

    options = RunOptions(n_trials=n_trials, data_dir=data_dir, results_dir=results)
    return run_search(resolve_space(space, options), options).study


def assert_whole(journal: Path) -> None:
    data = journal.read_bytes()
    assert data.endswith(b"\n"), "the journal ends with a whole record"
    import json

    for line in data.splitlines():
        json.loads(line)


@pytest.mark.slow
def test_a_full_disk_stops_the_search_with_one_line_and_loses_nothing(disk, tmp_path, data_dir):
    space = tmp_path / "full.toml"
    space.write_text(RANDOM_SPACE.format(study="full"))
    run_in_process(space, disk.path, data_dir)
    journal = disk.path / "full" / "study.journal"
    before = load("full", str(journal)).get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))
    assert len(before) == 2
    disk.fill(journal, leave=6000)
    full = subprocess.run(cli("run", str(space), "--n-trials", "4", "--results-dir", str(disk.path)),
                          capture_output=True, text=True, timeout=300, env=env(data_dir), preexec_fn=disk.preexec)
    assert full.returncode == 2, full.stderr
    last = full.stderr.strip().splitlines()[-1]
    assert last.startswith("cnn-search: error: cannot write the study journal ") and "Traceback" not in full.stderr
    assert "resume with: cnn-search run" in last
    assert_whole(journal)
    kept = load("full", str(journal)).trials
    assert [t.number for t in before] == [t.number for t in kept if t.state in (TrialState.COMPLETE,
                                                                                  TrialState.PRUNED)][:2]
    disk.free()
    study = run_in_process(space, disk.path, data_dir, n_trials=4)
    assert len(study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))) == 4
    assert not study.get_trials(states=(TrialState.RUNNING, TrialState.WAITING))


@pytest.mark.slow
def test_a_read_only_directory_is_one_line_and_the_study_stays_readable(disk, tmp_path, data_dir):
    space = tmp_path / "ro.toml"
    space.write_text(RANDOM_SPACE.format(study="ro"))
    run_in_process(space, disk.path, data_dir)
    disk.read_only()
    args = ["--results-dir", str(disk.path)]
    resumed = subprocess.run(cli("run", str(space), "--n-trials", "3", *args), capture_output=True, text=True,
                             timeout=300, env=env(data_dir))
    assert resumed.returncode == 2, resumed.stderr
    lines = resumed.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cnn-search: error: cannot write the study journal "), lines
    board = subprocess.run(cli("leaderboard", "ro", *args), capture_output=True, text=True, timeout=300,
                           env=env(data_dir))
    assert board.returncode == 0, board.stderr
    assert len(load("ro", str(disk.path / "ro" / "study.journal")).trials) == 2


@pytest.mark.smoke
def test_a_record_cut_off_by_a_power_loss_does_not_swallow_the_next_one(tmp_path):
    journal = tmp_path / "torn.journal"
    space = grid_space("torn", [4, 8, 16])
    study = open_study(space, open_storage(str(journal), "torn", tmp_path))
    top_up(study, space)
    trial = claim(study)
    study.tell(trial, 0.5)
    whole = journal.read_bytes()
    with open(journal, "r+b") as fh:  # the power goes while the next record is being written
        fh.seek(0, os.SEEK_END)
        fh.write(b'{"op_code":8,"worker_id":"x","trial_id":1,"user_attr":{"reason":"cut of')
    resumed = optuna.load_study(study_name="torn", storage=open_storage(str(journal), "torn", tmp_path))
    assert len(resumed.trials) == 3, "a torn last record is skipped on reading"
    resumed.set_user_attr("after", 1)
    trial = claim(resumed)
    resumed.tell(trial, 0.6)
    again = optuna.load_study(study_name="torn", storage=open_storage(str(journal), "torn", tmp_path))
    assert again.user_attrs["after"] == 1, "the record written after the torn one is kept"
    assert [t.state for t in again.trials] == [TrialState.COMPLETE, TrialState.COMPLETE, TrialState.WAITING]
    assert journal.read_bytes().startswith(whole) and (tmp_path / "torn.journal.torn").read_bytes().startswith(
        b'{"op_code":8')
    assert_whole(journal)


@pytest.mark.slow
def test_a_postgres_restart_mid_search_is_survived(postgres, pg_url, tmp_path, data_dir):
    space = write_space(tmp_path, "pgrestart", "[4, 6, 8]")
    proc = subprocess.Popen(cli("run", str(space), "--storage", pg_url, "--results-dir", str(tmp_path)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(data_dir))
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            if load("pgrestart", pg_url).get_trials(states=(TrialState.COMPLETE,)):
                break
        except KeyError:
            pass
        time.sleep(0.2)
    postgres.restart(downtime=3.0)  # every connection of the search is closed under it
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    study = load("pgrestart", pg_url)
    assert sorted(t.params["filters_1"] for t in study.get_trials(states=(TrialState.COMPLETE,))) == [4, 6, 8]
    assert not study.get_trials(states=(TrialState.FAIL, TrialState.RUNNING, TrialState.WAITING)), stderr


# --- the settings themselves ------------------------------------------------------------------------------------


@pytest.mark.smoke
@pytest.mark.parametrize("args,message", [
    (["--max-retries", "-1"], "--max-retries must be a whole number from 0 to 100, got -1"),
    (["--trial-timeout", "0"], "--trial-timeout must be a number of seconds > 0, got 0"),
])
def test_recovery_flag_errors_are_one_line(args, message, tmp_path):
    result = subprocess.run(cli("run", "spaces/quickstart.toml", *args, "--results-dir", str(tmp_path)),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stderr.strip() == f"cnn-search: error: {message}"
    assert not list(tmp_path.iterdir()), "nothing written"


@pytest.mark.smoke
def test_recovery_settings_in_a_space_file_are_validated():
    from search.errors import ConfigError

    with pytest.raises(ConfigError, match=r"recovery\.trial_timeout"):
        grid_space("bad", [4], recovery={"trial_timeout": -5})
    with pytest.raises(ConfigError, match=r"recovery\.max_retry: unknown key"):
        grid_space("bad", [4], recovery={"max_retry": 2})
    space = grid_space("ok", [4], recovery={"max_retries": 0, "trial_timeout": 60})
    assert (space.recovery.max_retries, space.recovery.trial_timeout) == (0, 60)
    assert space.with_overrides(trial_timeout=5.0).recovery.trial_timeout == 5.0
