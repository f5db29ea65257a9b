"""Live progress of a search: one line per finished trial, and the running trials' epochs.

A line per trial (rather than a redrawn bar) reads the same on a terminal,
in a log file and in CI: trials done/total, pruned and skipped counts, the
best value so far, elapsed time and an ETA from this session's pace. While
trials train, their epochs are shown too (trial, epoch k/N, validation
accuracy, images/s), at most one line per trial every
:data:`PROGRESS_INTERVAL` seconds, so a full-size search is never silent for
long and a fast one does not flood the terminal.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

import optuna
from optuna.trial import FrozenTrial, TrialState

from . import records

_ENDED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
#: Fewest seconds between two progress lines of one running trial.
PROGRESS_INTERVAL = 20.0


def _fmt(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class TrialReporter:
    """Optuna callback printing progress after every trial (also used by the grid engine)."""

    def __init__(self, total: int | None, stream: TextIO | None = None, compute_cap: int | None = None,
                 compute_at_start: int = 0) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self.compute_cap = compute_cap
        self.compute_at_start = compute_at_start
        self.start = time.perf_counter()
        self.session_done = 0

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self.report(trial, study.get_trials(deepcopy=False))

    def report(self, trial: FrozenTrial, trials: list[FrozenTrial]) -> None:
        """Print ``trial``'s line with counts over ``trials`` (the study as it was when it ended)."""
        finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
        skipped = sum(records.trial_status(t) in records.SKIPPED for t in finished)
        pruned = sum(t.state == TrialState.PRUNED for t in finished) - skipped
        failed = sum(records.trial_status(t) == records.STATUS_FAILED for t in trials)
        interrupted = sum(records.trial_status(t) == records.STATUS_INTERRUPTED for t in trials)
        self.session_done += 1
        elapsed = time.perf_counter() - self.start
        done = f"{len(finished)}/{self.total}" if self.total else str(len(finished))
        parts = [f"trial {trial.number}: {self._outcome(trial)}", f"done {done}", f"pruned {pruned}",
                 f"skipped {skipped}", f"failed {failed}",
                 *([f"interrupted {interrupted} (re-queued)"] if interrupted else []),
                 f"best {self._best(finished)}", f"elapsed {_fmt(elapsed)}"]
        etas = []
        if self.total:
            etas.append(elapsed / self.session_done * max(self.total - len(finished), 0))
        if self.compute_cap:
            used = records.image_epochs_trained(trials)
            parts.append(f"compute {used / self.compute_cap:.0%} of {self.compute_cap:,} image-epochs")
            if used > self.compute_at_start:
                etas.append(elapsed / (used - self.compute_at_start) * max(self.compute_cap - used, 0))
        if etas:  # whichever ends the search first: the trial target or the compute budget
            parts.append(f"eta {_fmt(min(etas))}")
        print(" | ".join(parts), file=self.stream, flush=True)

    @staticmethod
    def _outcome(trial: FrozenTrial) -> str:
        status = records.trial_status(trial)
        params = trial.user_attrs.get("params")
        size = f" {params:,} params" if params is not None else ""
        if trial.state == TrialState.COMPLETE:
            return f"val_acc {trial.value:.4f}{size}"
        if status == records.STATUS_INTERRUPTED:
            return "interrupted (queued again)"
        if trial.state == TrialState.FAIL:
            return f"failed ({trial.user_attrs.get('reason', 'unknown error')}){size}"
        return f"{status}{size}"

    @staticmethod
    def _best(finished: list[FrozenTrial]) -> str:
        complete = [t for t in finished if t.state == TrialState.COMPLETE and t.value is not None]
        if not complete:
            return "-"
        best = max(complete, key=lambda t: (t.value, -t.number))
        return f"{best.value:.4f} (trial {best.number})"


class TrialWatcher:
    """Feeds a :class:`TrialReporter` the trials other processes finish, by polling the storage.

    ``run --workers N`` trains nothing itself; this is how its one progress
    display learns what every worker did, whatever host it runs on.
    """

    def __init__(self, study: optuna.Study, reporter: TrialReporter, throttle: EpochThrottle | None = None) -> None:
        self.study = study
        self.reporter = reporter
        self.seen = {t.number for t in study.get_trials(deepcopy=False, states=_ENDED)}
        self.throttle = throttle or EpochThrottle()
        self._shown: dict[int, tuple] = {}

    def poll(self) -> int:
        """Report trials that ended since the last poll, in the order they ended; returns how many.

        Each line counts only the trials reported so far, so two trials that
        ended between polls do not both claim the final count.
        """
        trials = self.study.get_trials(deepcopy=False)
        self._running(trials)
        new = [t for t in trials if t.state in _ENDED and t.number not in self.seen]
        new.sort(key=lambda t: (t.datetime_complete is None, t.datetime_complete, t.number))
        for trial in new:
            self.seen.add(trial.number)
            self.reporter.report(trial, [t for t in trials if t.state not in _ENDED or t.number in self.seen])
        return len(new)

    def _running(self, trials: list[FrozenTrial]) -> None:
        """Print each running trial's newest epoch, throttled per trial."""
        for trial in trials:
            progress = trial.user_attrs.get(records.PROGRESS_ATTR) if trial.state == TrialState.RUNNING else None
            if not progress:
                continue
            key = (progress.get("run"), progress.get("epoch"))
            if self._shown.get(trial.number) != key and self.throttle.due(trial.number, progress):
                self._shown[trial.number] = key
                print(describe_progress(trial.number, progress), file=self.reporter.stream, flush=True)


def describe_progress(number: int, progress: dict[str, Any]) -> str:
    """``trial 12: run 1/3 epoch 5/15  val_acc 0.8921  3,150 img/s``: one line for a running trial."""
    parts = [f"trial {number}:"]
    if progress.get("runs", 1) > 1:
        parts.append(f"run {progress['run']}/{progress['runs']}")
    parts.append(f"epoch {progress['epoch']}/{progress['epochs']}")
    if progress.get("val_accuracy") is not None:
        parts.append(f" val_acc {progress['val_accuracy']:.4f}")
    else:
        parts.append(f" acc {progress.get('accuracy', 0.0):.4f}")
    if progress.get("images_per_s"):
        parts.append(f" {progress['images_per_s']:,.0f} img/s")
    return " ".join(parts)


class EpochThrottle:
    """Decides which progress records of which trials are printed: one per trial per interval."""

    def __init__(self, interval: float = PROGRESS_INTERVAL) -> None:
        self.interval = interval
        self._last: dict[int, float] = {}

    def due(self, number: int, progress: dict) -> bool:
        now = time.monotonic()
        last = self._last.get(number)
        final = progress.get("epoch") == progress.get("epochs") and progress.get("run") == progress.get("runs")
        if last is not None and now - last < self.interval and not final:
            return False
        self._last[number] = now
        return True


class TrialProgressSink:
    """Where a training trial's per-epoch progress goes: into the study, and throttled to ``stream``.

    Stored as the trial's ``progress`` attribute, it reaches a
    :class:`TrialWatcher` in any process (``run --workers N`` prints it from
    there); printed here, it shows in a single-process run's terminal and in
    each worker's log.
    """

    def __init__(self, trial: optuna.Trial, stream: TextIO | None = None,
                 throttle: EpochThrottle | None = None) -> None:
        self.trial = trial
        self.stream = stream or sys.stderr
        self.throttle = throttle or EpochThrottle()

    def __call__(self, progress: dict) -> None:
        from .compat import UpdateFinishedTrialError

        try:
            self.trial.set_user_attr(records.PROGRESS_ATTR, progress)
        except UpdateFinishedTrialError:  # another worker failed this trial; its retry reports instead
            return
        if self.throttle.due(self.trial.number, progress):
            print(describe_progress(self.trial.number, progress), file=self.stream, flush=True)
