"""Running a search-space file: the Python API behind ``cnn-search run``.

Loads and validates the space (budget feasibility included) before anything
trains, loads the dataset once, creates the study with its queue of trials,
then runs the queue in this process or in ``workers`` local processes that
this one watches to print one progress display for the whole study. Workers
on other hosts can join the same study at any time (``cnn-search worker``).

With worker processes this process only counts parameters and watches, so
:func:`resolve_space` and :func:`run_search` hide the GPUs from it before
Keras is imported (:func:`place_this_process`); nothing here imports Keras
before that. :func:`run_search` returns a :class:`SearchOutcome`, which says
whether the study got what was asked of it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import optuna
import pandas as pd
from optuna.trial import TrialState

from . import interrupts
from .data import load_dataset
from .errors import ConfigError
from .execution import run_study
from .execution.settings import store_recovery
from .progress import TrialReporter, TrialWatcher
from .records import DATA_ATTR, data_description, trial_status
from .reports.display import short_variant
from .runtime import backend_name, import_backend_quietly, package_versions, run_environment
from .storages import adopt_heartbeat, default_storage_path, describe_storage, open_storage
from .study import finished_trials, open_study, queued, target_trials, top_up
from .study.study import compute_exhausted, compute_used, resumed_sampler_seed, target_reached
from .workers.devices import Slot, hide_gpus, host_gpus, plan_slots
from .workers.pool import LocalPool, PoolConfig, exit_description, kill_wedged

if TYPE_CHECKING:
    from .data import Dataset
    from .spaces import Space  # imports Keras: loaded only after place_this_process


@dataclass(frozen=True)
class RunOptions:
    """Command-line values that override the space file (None keeps the file's), and where to run."""

    study: str | None = None
    storage: str | None = None
    n_trials: int | None = None
    timeout: float | None = None
    subset: int | None = None
    epochs: int | None = None
    test_subset: int | None = None
    data_dir: Path | None = None
    data: Mapping[str, Any] | None = None  # source settings in place of the space's [data] ones (``--data``)
    results_dir: Path = Path("results")
    workers: int | None = None  # None: train in this process; 0: only create the study and its queue
    gpus: list[int] | None = None  # GPU indices for the workers (None: every GPU nvidia-smi lists)
    trials_per_gpu: int = 1
    heartbeat: int | None = None  # seconds; a new study stores it (default 10), an existing one keeps its own
    max_retries: int | None = None  # None: the space's [recovery] settings
    trial_timeout: float | None = None
    poll_interval: float = 1.0

    @property
    def local_pool(self) -> bool:
        """True when trials run in worker processes rather than in this one."""
        return bool(self.workers) or (self.workers is None and bool(self.gpus))


@dataclass(frozen=True)
class SearchOutcome:
    """What :func:`run_search` left behind, so that no caller re-derives "done" from the study.

    ``cnn-search run`` exits 1 exactly when :attr:`stopped_short`: trials are
    still queued although nothing was meant to stop the search (no time
    limit, and workers were started), so every worker stopped early and the
    same command resumes it.
    """

    study: optuna.Study
    target_reached: bool  # finished (and running) trials make the study's target
    budget_used_up: bool  # the compute budget (max_image_epochs) cannot take one more trial
    queued: int  # trials still waiting for a worker
    ran: bool  # trials were run here or by local workers (False for workers=0: only created and queued)
    time_limited: bool  # the search had a timeout, which may leave queued trials on purpose

    @property
    def complete(self) -> bool:
        """True once the study has its target number of trials or has used up its compute budget."""
        return self.target_reached or self.budget_used_up

    @property
    def stopped_short(self) -> bool:
        """True when queued trials were left although neither a time limit nor ``workers=0`` asked for it."""
        return self.ran and not self.complete and self.queued > 0 and not self.time_limited


def place_this_process(options: RunOptions) -> bool:
    """Hide the GPUs from this process when its trials run elsewhere, then start the backend (quietly).

    With worker processes (or ``workers=0``, whose workers start elsewhere)
    this process only counts parameters and watches; a backend started here
    would claim GPU memory the workers need. Backends read the device
    variables when they start, so this runs before Keras is imported:
    :func:`resolve_space` and :func:`run_search` call it first, and calling
    it again is harmless. Returns False when the GPUs should be hidden but
    Keras was imported before (a notebook): they stay visible here.
    """
    hidden = _hide_gpus_for(options)
    import_backend_quietly()
    return hidden


def _hide_gpus_for(options: RunOptions) -> bool:
    """The device half of :func:`place_this_process`: no backend is started (nor Keras imported)."""
    if options.workers is not None and options.workers < 0:
        raise ConfigError(f"--workers must be 0 (only create the study and its queue) or more, got {options.workers}")
    return hide_gpus() if options.local_pool or options.workers == 0 else True


def resolve_space(path: str | Path, options: RunOptions) -> Space:
    """The validated space with CLI overrides applied, then its budget checked on its data.

    Everything that needs no model is checked before the backend starts, so
    a missing file or a misspelt key fails in about the time it takes to
    import Optuna, not TensorFlow; the budget check builds models, so the
    process is placed (GPUs hidden when workers train) and the backend
    started only then.
    """
    _hide_gpus_for(options)
    from .spaces.loader import check_space_budget, load_space

    space = load_space(path, check_budget=False).with_overrides(
        study=options.study, n_trials=options.n_trials, timeout=options.timeout, subset=options.subset,
        epochs=options.epochs, test_subset=options.test_subset, max_retries=options.max_retries,
        trial_timeout=options.trial_timeout, data=options.data)
    place_this_process(options)
    check_space_budget(space, path, options.data_dir)  # on the data the run uses, --data included
    return space


def run_search(space: Space, options: RunOptions, stream: TextIO | None = None) -> SearchOutcome:
    """Run or resume the study described by ``space``; returns the study and whether it is complete.

    GPUs are placed here: with ``workers`` the processes are spread over the
    GPUs (``options.gpus``, default every GPU nvidia-smi lists) and this one
    keeps none (:func:`place_this_process`).
    """
    stream = stream or sys.stderr
    if options.local_pool or options.workers == 0:
        _importable_builders(space)
    _place(options, stream)
    slots = _slots(options)  # a placement that cannot work is refused before anything is written
    # Our progress lines report failed trials with their reason; Optuna's own
    # log would add a traceback for every failure and for Ctrl-C.
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    dataset = load_dataset(space.data_options(), data_dir=options.data_dir)  # bad data: nothing written yet
    storage = open_storage(options.storage, space.study, options.results_dir)
    study = open_study(space, storage)
    heartbeat = adopt_heartbeat(storage, study, options.heartbeat, create=True, stream=stream)
    store_recovery(study, space)
    total = target_trials(space)
    added = top_up(study, space, dataset)
    where = describe_storage(options.storage, space.study, options.results_dir)
    print(f"study '{space.study}' ({space.engine}) in {where}: {describe_split(space, dataset)}, "
          f"target {total or 'timeout'} trials, {queued(study)} queued", file=stream, flush=True)
    study.set_user_attr("versions", package_versions())
    study.set_user_attr("seed", space.seed)
    study.set_user_attr(DATA_ATTR, data_description(dataset))
    reporter = TrialReporter(total, stream, compute_cap=space.optuna.max_image_epochs,
                             compute_at_start=compute_used(study))
    if options.workers == 0:
        print(f"study ready; start workers with: cnn-search worker {space.study} --storage "
              f"{where if options.storage else default_storage_path(space.study, options.results_dir)}",
              file=stream, flush=True)
        return _outcome(study, space, ran=False)
    if slots:
        del dataset  # the workers load their own copy
        _run_pool(study, space, options, slots, reporter, stream, heartbeat.grace)
    else:
        _run_here(study, space, storage, dataset, reporter)
    if reporter.session_done == 0 and not added:
        print(f"nothing to run: the study already has {finished_trials(study)} finished trials "
              f"(target {total}); pass a larger --n-trials to run more", file=stream, flush=True)
    return _outcome(study, space, ran=True)


def _importable_builders(space: Space) -> None:
    """Worker processes import each builder by its reference: a Python callable has none they could import."""
    from .zoo import get_variant

    for name in space.variant_names():
        builder = get_variant(name).builder
        if builder is not None and builder.in_process:
            raise ConfigError(f"builder '{name}' is a Python callable, which exists only in this process; name it "
                              'by reference (variant = "file.py:function") to run it with worker processes')


def describe_split(space: Space, dataset: Dataset) -> str:
    """The images each run of the study trains and validates on, as the header says it."""
    if space.validation.method == "kfold":
        pool, k = len(dataset.y_trainval), space.validation.folds
        return (f"{k}-fold cross-validation of {pool:,} images: each fold trains on about {pool - pool // k:,} "
                f"and validates on {pool // k:,}")
    return f"{len(dataset.y_train):,} train / {len(dataset.y_val):,} val images"


def _place(options: RunOptions, stream: TextIO) -> None:
    """:func:`place_this_process`, with a note when Keras came first and GPUs stay visible here."""
    if not place_this_process(options) and host_gpus():
        print("note: Keras was imported before run_search, so this process could not hide the GPUs from itself "
              "and may hold GPU memory its workers need (import search.runner and run it before keras)",
              file=stream, flush=True)


def _run_here(study: optuna.Study, space: Space, storage: optuna.storages.BaseStorage, dataset: Dataset,
              reporter: TrialReporter) -> None:
    """Run the queue in this process (no worker processes)."""
    from .spaces import ParamCounter

    for key, value in run_environment().items():
        study.set_user_attr(key, value)
    started = sum(t.state != TrialState.WAITING for t in study.get_trials(deepcopy=False))
    seed = resumed_sampler_seed(space.seed, started)
    run_study(space, storage, dataset, ParamCounter.for_dataset(dataset), [reporter], queue=False,
              sampler_seed=seed, trial_attrs={**run_environment(), "sampler_seed": seed})


def _outcome(study: optuna.Study, space: Space, *, ran: bool) -> SearchOutcome:
    return SearchOutcome(study, target_reached=target_reached(study), budget_used_up=compute_exhausted(study),
                         queued=queued(study), ran=ran, time_limited=space.optuna.timeout is not None)


def _slots(options: RunOptions) -> list[Slot]:
    """Where the local worker processes go (none: trials run in this process)."""
    if not options.local_pool:
        return []
    return plan_slots(options.workers, host_gpus() if options.gpus is None else options.gpus,
                      options.trials_per_gpu)


def _run_pool(study: optuna.Study, space: Space, options: RunOptions, slots: list[Slot], reporter: TrialReporter,
              stream: TextIO, grace: int) -> None:
    """Start the local workers and print every trial any worker finishes until all have stopped.

    A worker whose trial hung is replaced by a fresh process on the same
    slot: one that ended itself for it (:data:`EXIT_HUNG`), and one this
    process killed because its trial ran past the time limit plus the grace
    period (a hang that stopped even its own watchdog).
    """
    storage = options.storage or str(default_storage_path(space.study, options.results_dir))
    config = PoolConfig(study=space.study, storage=storage, results_dir=options.results_dir,
                        log_dir=options.results_dir / space.study / "workers", data_dir=options.data_dir,
                        timeout=space.optuna.timeout)
    pool = LocalPool(config, slots)
    study.set_user_attr("device", f"{len(slots)} local workers: " + ", ".join(s.device for s in slots))
    study.set_user_attr("backend", backend_name())  # the workers inherit KERAS_BACKEND from this process
    watcher = TrialWatcher(study, reporter)
    # Ctrl-C is acted on between two looks at the pool, never inside one: a KeyboardInterrupt raised
    # inside Popen.poll() can leave the Popen's lock held, and the wait for that worker would never end;
    # one raised while the workers start would leave those already started running, unwatched.
    with interrupts.sigint_deferred() as stop:
        _supervise(pool, watcher, stream, study, grace, options.poll_interval, stop)
    if stop:
        raise KeyboardInterrupt


def _supervise(pool: LocalPool, watcher: TrialWatcher, stream: TextIO, study: optuna.Study, grace: int,
               poll_interval: float, stop: list[int]) -> None:
    """Start the pool and watch it until every worker ends, or until ``stop`` (a signal) fills."""
    for worker in pool.start():
        print(f"started {worker.describe()}; log: {worker.log}", file=stream, flush=True)
    while not stop:
        _watch(pool, watcher, stream, study, grace)
        if not pool.running():
            return
        time.sleep(poll_interval)
    print("stopping the workers (each re-queues its running trial; Ctrl-C again kills them) ...",
          file=stream, flush=True)
    pool.interrupt(hurry=lambda: len(stop) > 1)
    _watch(pool, watcher, stream)


def _watch(pool: LocalPool, watcher: TrialWatcher, stream: TextIO, study: optuna.Study | None = None,
           grace: int = 0) -> None:
    """Report trials and exited workers; with ``study``, also kill and replace workers whose trial hung."""
    watcher.poll()
    if study is not None:
        for worker, trial in kill_wedged(pool, study, grace):
            print(f"{worker.describe()} was killed: its trial {trial} ran past the time limit and the "
                  "process did not stop by itself", file=stream, flush=True)
    for worker in pool.newly_exited():
        print(exit_description(worker), file=stream, flush=True)
        if study is not None and worker.hung:
            fresh = pool.replace(worker)
            print(f"replaced it with {fresh.describe()}; log: {fresh.log}", file=stream, flush=True)


def summary_table(study: optuna.Study, top: int = 5) -> pd.DataFrame:
    """The best finished configurations, one row each, for the end-of-run summary."""
    rows = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        a = t.user_attrs
        rows.append({
            "trial": t.number, "variant": short_variant(str(a.get("variant"))), "params": a.get("params"),
            "val_acc": t.value, "val_std": a.get("val_accuracy_std"), "test_acc": a.get("test_accuracy"),
            "time_s": a.get("training_time_s"), **{f"p:{k}": v for k, v in t.params.items()},
        })
    if not rows:
        return pd.DataFrame()
    return pd.DataFrame(rows).sort_values("val_acc", ascending=False).head(top).reset_index(drop=True)


def counts(study: optuna.Study) -> dict[str, int]:
    """Trials by status, as the progress line and summary report them."""
    out: dict[str, int] = {}
    for t in study.get_trials(deepcopy=False):
        status = trial_status(t)
        out[status] = out.get(status, 0) + 1
    return out
