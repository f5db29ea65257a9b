"""`cnn-search run` as a user meets it: the quickstart end to end, Ctrl-C and resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import optuna
from optuna.trial import TrialState

from search.compat import study_storage
from search.storages import load_existing_study


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "search", *args]


def test_quickstart_runs_end_to_end_and_a_rerun_does_nothing(tmp_path, data_dir):
    args = ("run", "spaces/quickstart.toml", "--subset", "1000", "--epochs", "2", "--n-trials", "3",
            "--test-subset", "1000", "--data-dir", str(data_dir), "--results-dir", str(tmp_path))
    first = subprocess.run(cli(*args), capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr
    assert "done 3/3" in first.stderr and "best 0." in first.stderr and "eta" in first.stderr
    assert "study 'quickstart':" in first.stdout and f"results: {tmp_path}/quickstart/study.journal" in first.stdout
    assert "Traceback" not in first.stderr
    again = subprocess.run(cli(*args), capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "nothing to run" in again.stderr
    study = load_existing_study("quickstart", None, tmp_path)
    assert len(study.trials) == 3


def test_ctrl_c_stops_cleanly_and_resume_retries_the_interrupted_trial(tmp_path, data_dir):
    args = ("run", "spaces/quickstart.toml", "--study", "interrupt", "--subset", "2000", "--epochs", "6",
            "--n-trials", "3", "--test-subset", "500", "--data-dir", str(data_dir), "--results-dir", str(tmp_path))
    proc = subprocess.Popen(cli(*args), stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    for line in proc.stderr:  # wait until the first trial has finished and the second has started
        if line.startswith("trial 0:"):
            break
    time.sleep(2.0)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "interrupted: finished trials are saved; resume with: cnn-search run spaces/quickstart.toml" in stderr
    assert "Traceback" not in stderr

    study = load_existing_study("interrupt", None, tmp_path)
    failed = study.get_trials(states=(TrialState.FAIL,))
    assert len(failed) == 1 and failed[0].user_attrs["interrupted"] is True

    resumed = subprocess.run(cli(*args), capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    study = optuna.load_study(study_name="interrupt", storage=study_storage(study))
    finished = study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))
    assert len(finished) == 3, "exactly the requested trials, none lost or duplicated"
    retries = [t for t in study.trials if t.user_attrs.get("retry_of") == failed[0].number]
    assert len(retries) == 1 and retries[0].params == failed[0].params


def test_a_resumed_search_does_not_propose_the_configurations_it_already_has(tmp_path, data_dir):
    """Raising --n-trials on a finished study: a sampler seeded as before would replay its start-up draws."""
    args = ("run", "spaces/quickstart.toml", "--study", "extend", "--subset", "500", "--epochs", "1",
            "--test-subset", "100", "--data-dir", str(data_dir), "--results-dir", str(tmp_path))
    for n in ("2", "4"):
        done = subprocess.run(cli(*args, "--n-trials", n), capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
    trials = load_existing_study("extend", None, tmp_path).trials
    assert len(trials) == 4
    first, later = [t.params for t in trials[:2]], [t.params for t in trials[2:]]
    assert not any(p in first for p in later), "the resumed run proposed a configuration the study had"
    assert trials[0].user_attrs["sampler_seed"] == 0 and trials[2].user_attrs["sampler_seed"] != 0


def test_an_interrupted_trial_counts_as_interrupted_not_failed():
    from optuna.trial import create_trial

    from search.records import trial_status

    interrupted = create_trial(state=TrialState.FAIL, user_attrs={"interrupted": True})
    assert trial_status(interrupted) == "interrupted"
    assert trial_status(create_trial(state=TrialState.FAIL, user_attrs={"reason": "boom"})) == "failed"
