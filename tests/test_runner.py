"""``run_search``'s outcome, on a real small study: complete, only queued (``workers=0``), and stopped short.

And what lets ``run_search`` place GPUs itself: importing the runner, and the
layers under the objectives, starts no deep-learning backend.
"""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys

from search.runner import RunOptions, SearchOutcome, resolve_space, run_search

QUICK = dict(subset=500, epochs=1, n_trials=2, test_subset=500)


def run(options: RunOptions, stream: io.StringIO | None = None) -> SearchOutcome:
    return run_search(resolve_space("spaces/quickstart.toml", options), options, stream=stream or io.StringIO())


def test_a_queued_study_is_not_complete_until_its_trials_ran(tmp_path, data_dir):
    options = RunOptions(**QUICK, data_dir=data_dir, results_dir=tmp_path, workers=0)
    ready = run(options)
    assert ready.queued == 2 and not ready.ran and not ready.complete
    assert not ready.stopped_short, "workers=0 asked only for the study and its queue"

    done = run(RunOptions(**QUICK, data_dir=data_dir, results_dir=tmp_path))
    assert done.complete and done.target_reached and done.queued == 0 and done.ran and not done.stopped_short
    assert len(done.study.trials) == 2


class KillsEachWorker(io.StringIO):
    """The run's progress stream, which SIGKILLs each worker process as soon as the runner reports it started."""

    def write(self, text: str) -> int:
        started = re.search(r"started worker \d+ \(pid (\d+)", text)
        if started:
            os.kill(int(started.group(1)), signal.SIGKILL)
        return super().write(text)


def test_a_search_whose_every_worker_died_stopped_short(tmp_path, data_dir):
    stream = KillsEachWorker()
    outcome = run(RunOptions(**QUICK, data_dir=data_dir, results_dir=tmp_path, workers=1, poll_interval=0.2), stream)
    assert "was killed by SIGKILL" in stream.getvalue()
    assert outcome.ran and outcome.queued == 2 and not outcome.complete
    assert outcome.stopped_short, "queued trials left without a time limit: `cnn-search run` exits 1"


def test_the_runner_and_the_layers_under_the_objectives_import_no_backend():
    code = ("import sys, search.runner, search.storages, search.study, search.execution, search.engines; "
            "print(sorted({'keras', 'tensorflow', 'jax', 'torch', 'scikeras'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]", out.stdout
