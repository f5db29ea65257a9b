"""``cnn-search run`` and ``cnn-search worker``: starting a search, and joining one from any host."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..errors import ConfigError, StorageError
from ..runtime import freeze_long_lived_objects, import_backend_quietly
from .common import (
    EXIT_INCOMPLETE,
    EXIT_INTERRUPTED,
    add_data_args,
    add_data_dir_arg,
    add_heartbeat_arg,
    add_storage_args,
    data_source,
    heartbeat_seconds,
    resume_command,
)


def register(sub: Any) -> None:
    run = sub.add_parser("run", help="run (or resume) the search described by a space file")
    run.add_argument("space", type=Path, help="a search-space file, e.g. spaces/quickstart.toml")
    run.add_argument("--study", help="study name (default: the file's)")
    run.add_argument("--n-trials", type=int, help="total trials the study should end with")
    run.add_argument("--timeout", type=float, help="stop starting trials after S seconds")
    run.add_argument("--subset", type=int, help="stratified subset of N training images")
    run.add_argument("--epochs", type=int, help="fixed epochs for every trial (overrides the file)")
    run.add_argument("--test-subset", type=int, help="evaluate on a stratified subset of N test images (fast runs)")
    add_data_args(run)
    add_storage_args(run)
    run.add_argument("--workers", type=int, metavar="N",
                     help="run the trials in N local worker processes (0: only create the study and its queue, "
                          "for workers started elsewhere); default: in this process")
    run.add_argument("--gpus", metavar="LIST", help="GPU indices for the workers, e.g. 0,1 (default: all GPUs)")
    run.add_argument("--trials-per-gpu", type=int, default=1, metavar="K",
                     help="workers sharing each GPU (small models; default 1)")
    add_heartbeat_arg(run)
    run.add_argument("--max-retries", type=int, metavar="N",
                     help="runs of a trial whose worker died or hung that are retried (default: the space's "
                          "[recovery] max_retries, 1); an interrupted trial is always re-queued")
    run.add_argument("--trial-timeout", type=float, metavar="S",
                     help="wall-clock limit per trial: past it the trial is failed and its worker process "
                          "replaced (default: the space's [recovery] trial_timeout, none)")
    run.set_defaults(handler=cmd_run)

    worker = sub.add_parser("worker", help="join a study and run its queued trials (any host)")
    worker.add_argument("study", help="study name (created by `cnn-search run`)")
    add_storage_args(worker)
    worker.add_argument("--device", metavar="gpu:K|cpu", help="train on GPU K or on the CPU (default: the "
                        "backend's choice)")
    worker.add_argument("--threads", type=int, help="CPU threads for the backend (default: one per core)")
    worker.add_argument("--trials-per-gpu", type=int, default=1, metavar="K",
                        help="this worker is one of K on its GPU: cap its GPU memory to 1/K of the card (default 1)")
    worker.add_argument("--timeout", type=float, help="stop claiming trials after S seconds")
    add_data_dir_arg(worker)
    add_heartbeat_arg(worker)
    worker.set_defaults(handler=cmd_worker)


def cmd_run(args: argparse.Namespace) -> int:
    heartbeat_seconds(args)  # flag errors first, before the slow imports
    _check_recovery_flags(args)
    from ..records import describe_compute
    from ..runner import counts, resolve_space, run_search, summary_table
    from ..storages import describe_storage
    from ..study.study import compute_used

    options = _run_options(args)
    space = resolve_space(args.space, options)  # places the GPUs, then starts the backend
    freeze_long_lived_objects()
    try:
        outcome = run_search(space, options)
    except KeyboardInterrupt:
        print(f"\ninterrupted: finished trials are saved; resume with: {resume_command(args)}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except StorageError as exc:
        raise StorageError(f"{exc}; resume with: {resume_command(args)}") from None
    study = outcome.study
    table = summary_table(study)
    tally = ", ".join(f"{n} {status}" for status, n in sorted(counts(study).items()))
    print(f"study '{space.study}': {tally or 'no trials'}")
    if not table.empty:
        print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(f"results: {describe_storage(options.storage, space.study, args.results_dir)}")
    cap = space.optuna.max_image_epochs
    print(f"compute: {describe_compute(compute_used(study))}"
          + (f" of the budget's {cap:,}" if cap else "")
          + (" (budget used up: no more trials start)" if outcome.budget_used_up else ""))
    if outcome.stopped_short:
        print(f"cnn-search: {outcome.queued} queued trial(s) were not run because every worker stopped (see the "
              f"worker logs); resume with: {resume_command(args)}", file=sys.stderr)
        return EXIT_INCOMPLETE
    return 0


def _check_recovery_flags(args: argparse.Namespace) -> None:
    if args.max_retries is not None and not 0 <= args.max_retries <= 100:
        raise ConfigError(f"--max-retries must be a whole number from 0 to 100, got {args.max_retries}")
    if args.trial_timeout is not None and not args.trial_timeout > 0:
        raise ConfigError(f"--trial-timeout must be a number of seconds > 0, got {args.trial_timeout:g}")


def _run_options(args: argparse.Namespace) -> Any:
    from ..runner import RunOptions
    from ..workers.devices import parse_gpus

    return RunOptions(study=args.study, storage=args.storage, n_trials=args.n_trials, timeout=args.timeout,
                      subset=args.subset, epochs=args.epochs, test_subset=args.test_subset,
                      data_dir=args.data_dir, data=data_source(args) or None, results_dir=args.results_dir,
                      workers=args.workers,
                      gpus=parse_gpus(args.gpus) if args.gpus is not None else None,
                      trials_per_gpu=args.trials_per_gpu, heartbeat=heartbeat_seconds(args),
                      max_retries=args.max_retries, trial_timeout=args.trial_timeout)


def cmd_worker(args: argparse.Namespace) -> int:
    from ..workers.devices import apply_env, parse_device, placement_env, threads_env

    heartbeat = heartbeat_seconds(args)
    if args.threads is not None and args.threads < 1:
        raise ConfigError(f"--threads must be at least 1, got {args.threads}")
    if args.trials_per_gpu < 1:
        raise ConfigError(f"--trials-per-gpu must be at least 1, got {args.trials_per_gpu}")
    env = placement_env(parse_device(args.device), args.trials_per_gpu) if args.device else {}
    apply_env({**env, **threads_env(args.threads)})
    import_backend_quietly()
    from ..workers.memory import apply_memory_cap

    cap = apply_memory_cap()  # before the data or any model touches the GPU
    from ..workers.worker import WorkerOptions, run_worker

    freeze_long_lived_objects()
    options = WorkerOptions(study=args.study, storage=args.storage, results_dir=args.results_dir,
                            data_dir=args.data_dir, timeout=args.timeout, heartbeat=heartbeat,
                            memory_cap=cap)
    try:
        run_worker(options)
    except KeyboardInterrupt:
        print("worker interrupted: its running trial was re-queued", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0
