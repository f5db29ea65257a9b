"""Several worker processes on one study, on a real PostgreSQL server and on the journal file.

Workers are started the way users start them (``cnn-search run --workers N``),
one is killed with SIGKILL in the middle of a trial, and the study must still
end with every grid point evaluated exactly once and the killed trial retried
exactly once. Models and subsets are tiny so this stays fast on 2 cores.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from search.compat import study_storage, trial_id
from search.execution.recovery import WORKER_ATTR, recover
from search.spaces import validate_space_dict
from search.storages import Heartbeat, open_storage
from search.storages.heartbeat import beating
from search.study import open_study
from search.study.queue import claim, planned_params, top_up
from search.workers.devices import Slot
from search.workers.pool import LocalPool, PoolConfig, WorkerProcess, exit_description

GRID_SPACE = """
study = "{study}"
variant = "cnn"
engine = "optuna"
seed = 0
epochs = 3
batch_size = 64

[fixed]
blocks = 1
dense_units = 16

[search]
filters_1 = [4, 6, 8, 10]
activation = ["relu", "elu"]

[optuna]
sampler = "grid"

[data]
subset = 1200
test_subset = 500
"""
GRID_POINTS = sorted((f, a) for f in (4, 6, 8, 10) for a in ("relu", "elu"))


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "search", *args]


def env(data_dir: Path) -> dict[str, str]:
    return {**os.environ, "CNN_SEARCH_DATA": str(data_dir), "PYTHONUNBUFFERED": "1"}


def load(study: str, url: str | None, results: Path) -> optuna.Study:
    return optuna.load_study(study_name=study, storage=open_storage(url, study, results))


def wait_for_running_trial(study: str, url: str | None, results: Path, proc: subprocess.Popen,
                           limit: float = 240) -> optuna.trial.FrozenTrial:
    """The first trial seen running with its worker recorded, caught within its first second."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        path = results / study / "study.journal"
        if url is not None or path.exists():
            try:
                trials = load(study, url, results).get_trials(states=(TrialState.RUNNING,))
            except KeyError:  # the study is not created yet
                trials = []
            for t in trials:
                started = t.datetime_start.timestamp() if t.datetime_start else time.time()
                if WORKER_ATTR in t.user_attrs and time.time() - started < 1.0:
                    return t
        time.sleep(0.05)
    raise AssertionError("no trial started")


@pytest.mark.parametrize("kind,workers", [("postgres", 3), ("journal", 4)])
def test_workers_share_a_grid_and_a_killed_workers_trial_is_retried_once(kind, workers, tmp_path, data_dir,
                                                                          request):
    url = request.getfixturevalue("pg_url") if kind == "postgres" else None
    study_name = f"kill-{kind}"
    space = tmp_path / "grid.toml"
    space.write_text(GRID_SPACE.format(study=study_name))
    args = ["run", str(space), "--workers", str(workers), "--heartbeat", "1", "--results-dir", str(tmp_path)]
    args += ["--storage", url] if url else []
    proc = subprocess.Popen(cli(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env(data_dir))
    victim = wait_for_running_trial(study_name, url, tmp_path, proc)
    os.kill(int(victim.user_attrs[WORKER_ATTR].rpartition(":")[2]), signal.SIGKILL)
    stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stderr

    study = load(study_name, url, tmp_path)
    killed = study.trials[victim.number]
    assert killed.state == TrialState.FAIL and "died during the trial" in killed.user_attrs["reason"]
    retries = [t for t in study.trials if t.user_attrs.get("retry_of") == victim.number]
    assert len(retries) == 1 and retries[0].state == TrialState.COMPLETE
    # the same grid point; the victim may die before or while it suggests (some of) its parameters
    assert killed.params.items() <= retries[0].params.items()
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    assert sorted((t.params["filters_1"], t.params["activation"]) for t in complete) == GRID_POINTS
    assert [t.number for t in study.get_trials(states=(TrialState.FAIL,))] == [victim.number]
    assert not study.get_trials(states=(TrialState.WAITING, TrialState.RUNNING, TrialState.PRUNED))
    assert len({t.user_attrs[WORKER_ATTR] for t in complete}) >= 2, "the work was shared"
    assert "was killed by SIGKILL" in stderr and stderr.count("done 8/8") == 1
    logs = "".join(p.read_text() for p in (tmp_path / study_name / "workers").glob("worker-*.log"))
    if url:
        from pgserver import PASSWORD

        assert PASSWORD not in stdout + stderr + logs
        assert "cnn:***@127.0.0.1" in stdout + stderr


def test_a_claimed_trial_beats_and_names_its_host_before_its_worker(tmp_path, monkeypatch):
    # A SIGKILL between these writes once left a trial naming a worker with no host and no heartbeat: RUNNING forever.
    from search.execution import loop
    from search.execution.recovery import HOST_ATTR

    space = validate_space_dict({"study": "order", "variant": "cnn", "engine": "optuna", "fixed": {"blocks": 1},
                                 "search": {"filters_1": [4]}, "optuna": {"sampler": "grid"}})
    study = open_study(space, open_storage(str(tmp_path / "o.journal"), "order", tmp_path, Heartbeat(interval=1)))
    assert top_up(study, space) == 1
    writes: list[str] = []
    monkeypatch.setattr(loop, "beat_once", lambda storage, tid: writes.append("beat"))
    original = optuna.Trial.set_user_attr
    monkeypatch.setattr(optuna.Trial, "set_user_attr", lambda self, k, v: writes.append(k) or original(self, k, v))
    trial = loop._take(study, loop.LoopOptions(trial_attrs={"device": "cpu"}))
    assert trial is not None and writes[0] == "beat" and writes[-2:] == [HOST_ATTR, WORKER_ATTR]


@pytest.mark.smoke
@pytest.mark.parametrize("kind", ["journal", "postgres"])
def test_a_silent_heartbeat_fails_the_trial_and_queues_one_retry(kind, tmp_path, request):
    url = request.getfixturevalue("pg_url") if kind == "postgres" else str(tmp_path / "hb.journal")
    beat = Heartbeat(interval=1, grace_factor=2)
    space = validate_space_dict({"study": "hb", "variant": "cnn", "engine": "optuna", "fixed": {"blocks": 1},
                                 "search": {"filters_1": [4, 8]}, "optuna": {"sampler": "grid"}})
    study = open_study(space, open_storage(url, "hb", tmp_path, beat))
    assert top_up(study, space) == 2
    trial = claim(study)  # a worker on another host claims a trial ...
    trial.set_user_attr(WORKER_ATTR, "another-host:4242")
    with beating(study_storage(study), trial_id(trial)):
        time.sleep(3.0)  # longer than the grace period, but beating
        assert recover(study) == [], "a beating trial is alive"
    peer = open_study(space, open_storage(url, "hb", tmp_path, beat))  # ... and a second worker watches
    time.sleep(2.5)  # ... the first goes silent for longer than the grace period
    assert recover(peer) == [trial.number]
    assert recover(peer) == [] and recover(study) == [], "failed and re-queued once only"
    failed = peer.trials[trial.number]
    assert failed.state == TrialState.FAIL and "stopped sending heartbeats" in failed.user_attrs["reason"]
    retries = [t for t in peer.trials if t.user_attrs.get("retry_of") == trial.number]
    assert len(retries) == 1 and retries[0].state == TrialState.WAITING
    assert planned_params(retries[0]) == planned_params(failed) == {"filters_1": 4}


def test_run_with_two_workers_stops_on_ctrl_c_and_resumes_to_the_exact_count(tmp_path, data_dir):
    args = ["run", "spaces/quickstart.toml", "--workers", "2", "--subset", "1000", "--epochs", "3", "--n-trials",
            "5", "--test-subset", "500", "--results-dir", str(tmp_path), "--data-dir", str(data_dir)]
    proc = subprocess.Popen(cli(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env(data_dir))
    seen = []
    for line in proc.stderr:  # one display for both workers: interrupt once the first trial is reported
        seen.append(line)
        if line.startswith("trial "):
            break
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=300)
    stderr = "".join(seen) + rest
    assert proc.returncode == 130, stderr
    assert "resume with: cnn-search run spaces/quickstart.toml" in stderr and "Traceback" not in stderr
    study = load("quickstart", None, tmp_path)
    interrupted = [t for t in study.trials if t.state == TrialState.FAIL]
    assert interrupted and all(t.user_attrs.get("interrupted") for t in interrupted), \
        [(t.number, t.user_attrs) for t in interrupted]
    assert not study.get_trials(states=(TrialState.RUNNING,)), "every worker re-queued its trial"

    resumed = subprocess.run(cli(*args), capture_output=True, text=True, timeout=600, env=env(data_dir))
    assert resumed.returncode == 0, resumed.stderr
    study = load("quickstart", None, tmp_path)
    assert len(study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))) == 5
    for t in interrupted:
        retries = [r for r in study.trials if r.user_attrs.get("retry_of") == t.number]
        assert len(retries) == 1 and retries[0].state != TrialState.FAIL
        assert retries[0].params == t.params or not t.params
    assert resumed.stderr.count("started worker") == 2 and "done 5/5" in resumed.stderr


MEMORY_SPACE = """
study = "memory"
variant = "cnn"
engine = "optuna"
seed = 0
epochs = 1
batch_size = 128

[fixed]
blocks = 1
dense_units = 8

[search]
filters_1 = { type = "int", low = 2, high = 12 }

[optuna]
sampler = "random"
n_trials = 30

[data]
subset = 400
test_subset = 200
"""


def test_a_long_lived_worker_runs_30_trials_without_growing(tmp_path, data_dir):
    space = tmp_path / "memory.toml"
    space.write_text(MEMORY_SPACE)
    created = subprocess.run(cli("run", str(space), "--workers", "0", "--results-dir", str(tmp_path)),
                             capture_output=True, text=True, timeout=300, env=env(data_dir))
    assert created.returncode == 0 and "30 queued" in created.stderr, created.stderr
    assert "start workers with: cnn-search worker memory --storage" in created.stderr
    worker = subprocess.run(cli("worker", "memory", "--results-dir", str(tmp_path), "--device", "cpu"),
                            capture_output=True, text=True, timeout=600, env=env(data_dir))
    assert worker.returncode == 0, worker.stderr
    trials = load("memory", None, tmp_path).trials
    assert len(trials) == 30 and all(t.state == TrialState.COMPLETE for t in trials)
    assert len({t.user_attrs[WORKER_ATTR] for t in trials}) == 1, "one long-lived worker ran them all"
    rss = [t.user_attrs["memory"]["rss_mb"] for t in sorted(trials, key=lambda t: t.datetime_complete)]
    early, late = sorted(rss[3:8])[2], sorted(rss[-5:])[2]  # medians; the first trials warm caches up
    assert late - early < 40, f"RSS grew {late - early:.0f} MiB over 25 trials: {[round(r) for r in rss]}"


@pytest.mark.jax  # the out-of-memory error of every backend CI runs
def test_a_failing_trial_is_recorded_with_its_reason_and_the_worker_goes_on(tmp_path):
    import keras

    from search.execution.loop import work

    space = validate_space_dict({"study": "oom", "variant": "cnn", "engine": "optuna", "fixed": {"blocks": 1},
                                 "search": {"filters_1": [4, 6, 8]}, "optuna": {"sampler": "grid"}})
    study = open_study(space, open_storage(None, "oom", tmp_path))
    top_up(study, space)

    def objective(trial):
        if trial.suggest_categorical("filters_1", [4, 6, 8]) == 6:
            keras.ops.zeros((2**40,))  # 4 TiB: the backend's own out-of-memory error
        return 0.5

    assert work(study, objective) == 3
    by_value = {t.params["filters_1"]: t for t in study.trials}
    assert by_value[6].state == TrialState.FAIL
    assert by_value[6].user_attrs["reason"].startswith("out of memory: ")
    assert by_value[4].state == by_value[8].state == TrialState.COMPLETE
    assert "rss_mb" in by_value[6].user_attrs["memory"]


@pytest.mark.parametrize("args,message", [
    (["run", "spaces/quickstart.toml", "--workers", "-1"], "--workers must be 0"),
    (["run", "spaces/quickstart.toml", "--gpus", "0,x"], "--gpus '0,x': expected comma-separated GPU indices"),
    (["run", "spaces/quickstart.toml", "--gpus", "0", "--workers", "3"], "--workers 3 needs 3 GPU slots"),
    (["run", "spaces/quickstart.toml", "--heartbeat", "0"], "--heartbeat must be a whole number"),
    (["worker", "nosuch", "--device", "tpu:0"], "--device 'tpu:0': expected gpu:K"),
    (["worker", "nosuch", "--threads", "0"], "--threads must be at least 1"),
    (["worker", "nosuch"], "no study 'nosuch' at"),
])
def test_worker_usage_errors_are_one_line(args, message, tmp_path):
    result = subprocess.run(cli(*args, "--results-dir", str(tmp_path)), capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cnn-search: error: ") and message in lines[0], lines
    assert not list(tmp_path.iterdir()), "nothing written"


@pytest.mark.smoke
def test_a_wrong_database_password_is_one_line_and_never_printed(pg_url, tmp_path):
    from pgserver import PASSWORD

    wrong = pg_url.replace(PASSWORD, "Wr0ng-Pa55")
    result = subprocess.run(cli("run", "spaces/quickstart.toml", "--storage", wrong, "--results-dir", str(tmp_path)),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "Wr0ng-Pa55" not in result.stderr + result.stdout and "cnn:***@127.0.0.1" in result.stderr
    assert "password authentication failed" in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.smoke
@pytest.mark.parametrize("url,hides,message", [
    ("postgresql+psycopg2://cnn:S3cret@127.0.0.1:1/db", None, "the database driver module 'psycopg2' cannot be"),
    ("postgresql://cnn:S3cret@127.0.0.1:1/db", "psycopg", "module 'psycopg' cannot be imported (pip install"),
])
def test_a_missing_database_driver_is_named(url, hides, message, tmp_path, monkeypatch):
    from search.errors import ConfigError

    if hides:  # a bare postgresql:// URL must look for psycopg 3, whatever SQLAlchemy's default driver
        monkeypatch.setitem(sys.modules, hides, None)
    with pytest.raises(ConfigError) as caught:
        open_storage(url, "driver", tmp_path)
    assert message in str(caught.value) and "S3cret" not in str(caught.value)


@pytest.mark.smoke
def test_a_trial_failed_by_another_worker_mid_run_is_dropped_and_its_retry_counts(tmp_path):
    from search.execution.loop import work
    from search.execution.recovery import fail_and_retry

    space = validate_space_dict({"study": "peer", "variant": "cnn", "engine": "optuna", "fixed": {"blocks": 1},
                                 "search": {"filters_1": [4]}, "optuna": {"sampler": "grid"}})
    study = open_study(space, open_storage(None, "peer", tmp_path))
    top_up(study, space)
    calls = []

    def objective(trial):
        calls.append(trial.number)
        trial.suggest_categorical("filters_1", [4])
        if len(calls) == 1:  # a peer decides this worker looks dead, while it is still training
            peer = open_study(space, open_storage(None, "peer", tmp_path))
            assert fail_and_retry(peer, peer.trials[trial.number], "stopped sending heartbeats (test)")
            trial.set_user_attr("after", 1)  # a write to a trial that has ended: must not crash the worker
        return 0.5

    assert work(study, objective) == 2
    first, retry = study.trials
    assert first.state == TrialState.FAIL and first.user_attrs["reason"] == "stopped sending heartbeats (test)"
    assert retry.state == TrialState.COMPLETE and retry.user_attrs["retry_of"] == first.number


def test_a_trial_killed_between_two_suggestions_is_retried_with_its_whole_grid_point(tmp_path):
    space = validate_space_dict({"study": "half", "variant": "cnn", "engine": "optuna", "fixed": {"blocks": 1},
                                 "search": {"filters_1": [4, 8], "activation": ["relu", "elu"]},
                                 "optuna": {"sampler": "grid"}})
    study = open_study(space, open_storage(str(tmp_path / "half.journal"), "half", tmp_path))
    top_up(study, space)
    trial = claim(study)
    point = planned_params(study.trials[trial.number])
    trial.suggest_categorical("filters_1", [4, 8])  # ... and the worker dies before suggesting "activation"
    half = study.trials[trial.number]
    assert half.params == {"filters_1": point["filters_1"]}
    assert planned_params(half) == point, "the retry must run the whole grid point, not a re-sampled half"


STUBBORN = ("import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); print('ready', flush=True); "
            "time.sleep(120)")


@pytest.mark.parametrize("grace, hurry, within", [(1.0, False, 10.0), (60.0, True, 10.0)])
def test_stopping_the_pool_kills_a_worker_that_ignores_ctrl_c_after_the_grace_or_a_second_ctrl_c(
        tmp_path, grace, hurry, within):
    config = PoolConfig(study="s", storage=str(tmp_path / "j"), results_dir=tmp_path, log_dir=tmp_path)
    pool = LocalPool(config, [])
    proc = subprocess.Popen([sys.executable, "-c", STUBBORN], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "ready\n"
    pool.workers.append(WorkerProcess(1, Slot(gpu=None), tmp_path / "log", proc))
    start = time.monotonic()
    pool.interrupt(grace=grace, hurry=lambda: hurry)
    assert proc.returncode == -signal.SIGKILL and time.monotonic() - start < within
    assert "was killed while stopping" in exit_description(pool.workers[0])
