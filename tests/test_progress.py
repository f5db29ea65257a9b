"""The search's progress lines: what a person watching a long search reads."""

from __future__ import annotations

import io
import time

import optuna
from optuna.trial import TrialState

from search import records
from search.progress import TrialReporter


def _trials() -> list[optuna.trial.FrozenTrial]:
    done = optuna.trial.create_trial(value=0.9, user_attrs={"image_epochs": 200_000, "params": 40_000})
    running = optuna.trial.create_trial(state=TrialState.RUNNING,
                                        user_attrs={records.PROGRESS_ATTR: {"image_epochs": 50_000}})
    skipped = optuna.trial.create_trial(state=TrialState.PRUNED, user_attrs={"status": records.STATUS_OVER_BUDGET})
    return [done, running, skipped]


def test_a_compute_budget_sets_the_eta_when_it_ends_the_search_first():
    stream = io.StringIO()
    reporter = TrialReporter(120, stream, compute_cap=1_000_000)
    reporter.start = time.perf_counter() - 100.0  # 100 s in, 250,000 image-epochs trained
    trials = _trials()
    reporter.report(trials[0], trials)
    line = stream.getvalue()
    assert "compute 25% of 1,000,000 image-epochs" in line
    # by trials: 100 s for 2 of 120 -> 1:38:20 left; by compute: 100 s for 25% -> 300 s left
    assert line.rstrip().endswith("eta 0:05:00")


def test_the_eta_counts_only_this_sessions_pace():
    stream = io.StringIO()
    reporter = TrialReporter(None, stream, compute_cap=1_000_000, compute_at_start=150_000)
    reporter.start = time.perf_counter() - 100.0  # a resumed search: 100,000 of the 250,000 trained now
    trials = _trials()
    reporter.report(trials[0], trials)
    assert stream.getvalue().rstrip().endswith("eta 0:12:30")


def test_without_a_compute_budget_the_line_has_no_compute_part():
    stream = io.StringIO()
    trials = _trials()
    TrialReporter(3, stream).report(trials[0], trials)
    assert "compute" not in stream.getvalue() and "eta" in stream.getvalue()
