"""Running a search-space file: the Python API behind ``cnn-search run``.

Loads and validates the space (budget feasibility included) before anything
trains, loads the dataset once, creates the study with its queue of trials,
then runs the queue in this process or in ``workers`` local processes that
this one watches to print one progress display for the whole study. Workers
on other hosts can join the same study at any time (``cnn-search worker``).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import optuna
import pandas as pd
from optuna.trial import TrialState

from .data import load_dataset
from .execution import run_study
from .execution.settings import store_recovery
from .progress import TrialReporter, TrialWatcher
from .runtime import backend_name, package_versions, run_environment
from .spaces import ParamCounter, Space, load_space
from .storages import adopt_heartbeat, default_storage_path, describe_storage, open_storage
from .study import finished_trials, open_study, queued, target_trials, top_up
from .study.study import compute_used
from .workers.devices import Slot, detect_gpus, plan_slots
from .workers.pool import LocalPool, PoolConfig, exit_description, kill_wedged


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


def resolve_space(path: str | Path, options: RunOptions) -> Space:
    """The validated space with CLI overrides applied."""
    space = load_space(path)
    return space.with_overrides(study=options.study, n_trials=options.n_trials, timeout=options.timeout,
                                subset=options.subset, epochs=options.epochs, test_subset=options.test_subset,
                                max_retries=options.max_retries, trial_timeout=options.trial_timeout)


def run_search(space: Space, options: RunOptions, stream: TextIO | None = None) -> optuna.Study:
    """Run or resume the study described by ``space``; returns the study."""
    stream = stream or sys.stderr
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
    print(f"study '{space.study}' ({space.engine}) in {where}: {len(dataset.y_train):,} train / "
          f"{len(dataset.y_val):,} val images, target {total or 'timeout'} trials, {queued(study)} queued",
          file=stream, flush=True)
    study.set_user_attr("versions", package_versions())
    study.set_user_attr("seed", space.seed)
    reporter = TrialReporter(total, stream, compute_cap=space.optuna.max_image_epochs,
                             compute_at_start=compute_used(study))
    if options.workers == 0:
        print(f"study ready; start workers with: cnn-search worker {space.study} --storage "
              f"{where if options.storage else default_storage_path(space.study, options.results_dir)}",
              file=stream, flush=True)
        return study
    if slots:
        del dataset  # the workers load their own copy
        _run_pool(study, space, options, slots, reporter, stream, heartbeat.grace)
    else:
        for key, value in run_environment().items():
            study.set_user_attr(key, value)
        run_study(space, storage, dataset, ParamCounter(), [reporter], queue=False,
                  trial_attrs={**run_environment(), "sampler_seed": space.seed})
    if reporter.session_done == 0 and not added:
        print(f"nothing to run: the study already has {finished_trials(study)} finished trials "
              f"(target {total}); pass a larger --n-trials to run more", file=stream, flush=True)
    return study


def _slots(options: RunOptions) -> list[Slot]:
    """Where the local worker processes go (none: trials run in this process)."""
    if not options.local_pool:
        return []
    return plan_slots(options.workers, detect_gpus() if options.gpus is None else options.gpus,
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
    for worker in pool.start():
        print(f"started {worker.describe()}; log: {worker.log}", file=stream, flush=True)
    try:
        while True:
            _watch(pool, watcher, stream, study, grace)
            if not pool.running():
                break
            time.sleep(options.poll_interval)
    except KeyboardInterrupt:
        print("stopping the workers (each re-queues its running trial) ...", file=stream, flush=True)
        pool.interrupt()
        _watch(pool, watcher, stream)
        raise


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
            "trial": t.number, "variant": a.get("variant"), "params": a.get("params"),
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
        status = t.user_attrs.get("status") if t.state != TrialState.FAIL else "failed"
        status = status or t.state.name.lower()
        out[status] = out.get(status, 0) + 1
    return out
