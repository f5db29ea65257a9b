"""The ``cnn-search`` command: a thin layer over the Python API.

Each sub-command parses its arguments, calls one API function and prints the
outcome. User errors (:class:`~search.errors.CnnSearchError`) become one line
on stderr and exit status 2; Ctrl-C exits 130 without a traceback.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .errors import CnnSearchError, ConfigError
from .runtime import STORAGE_ENV, import_backend_quietly

EXIT_INCOMPLETE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

Handler = Callable[[argparse.Namespace], int]


def parse_assignments(items: Sequence[str] | None) -> dict[str, str]:
    """``["kernel=5", "activation=elu"]`` -> ``{"kernel": "5", "activation": "elu"}``."""
    values: dict[str, str] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects key=value, got {item!r}")
        values[key.strip()] = value.strip()
    return values


def _add_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", type=Path, help="directory with the four Fashion-MNIST .gz files "
                   "(default: $CNN_SEARCH_DATA, then the Keras cache, then download)")
    p.add_argument("--subset", type=int, help="train on a stratified subset of N training images")
    p.add_argument("--normalize", choices=("scale", "standardize"), default="scale",
                   help="scale: x/255; standardize: per-pixel mean/std of the training split")
    p.add_argument("--val-fraction", type=float, default=0.2, help="validation fraction (default 0.2)")


def _cmd_models(args: argparse.Namespace) -> int:
    import_backend_quietly()
    from .zoo import count_params, list_variants

    rows = [(v.name, count_params(v.name), v.summary) for v in list_variants()]
    width = max(len(name) for name, _, _ in rows)
    header = f"{'variant':<{width}}  {'params':>10}"
    if args.budget is not None:
        header += f"  {'fits ' + format(args.budget, ','):>12}"
    print(header + "  description")
    for name, params, summary in rows:
        line = f"{name:<{width}}  {params:>10,}"
        if args.budget is not None:
            line += f"  {'yes' if params <= args.budget else 'no':>12}"
        print(f"{line}  {summary}")
    return 0


def _train_config(args: argparse.Namespace) -> Any:
    from .data import DataOptions
    from .handoff import load_best, train_config
    from .training import TrainConfig

    if args.from_spec is not None:
        if args.variant or args.set or args.epochs or args.batch_size or args.subset:
            raise ConfigError("train --from takes the whole configuration from the spec; "
                              "drop VARIANT, --set, --epochs, --batch-size and --subset")
        return train_config(load_best(args.from_spec), full_train=args.full_train)
    if not args.variant:
        raise ConfigError("train needs a VARIANT (see `cnn-search models`) or --from best.json")
    return TrainConfig(
        variant=args.variant,
        hparams=parse_assignments(args.set),
        epochs=args.epochs,
        batch_size=args.batch_size,
        seed=args.seed,
        data=DataOptions(subset=args.subset, normalize=args.normalize, val_fraction=args.val_fraction),
        full_train=args.full_train,
    )


def _cmd_train(args: argparse.Namespace) -> int:
    import_backend_quietly()
    from .training import train, write_run

    config = _train_config(args)
    result = train(config, data_dir=args.data_dir, verbose=not args.quiet)
    out = write_run(result, args.out)
    m = result.metrics
    print(f"{m['variant']}: {m['params']:,} params, test accuracy {m['test']['accuracy']:.4f}, "
          f"test loss {m['test']['loss']:.4f}, {m['training_time_s']:.1f}s training; results in {out}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    _heartbeat(args)  # flag errors first, before the slow imports
    gpus = _place_run(args)
    import_backend_quietly()
    options = _run_options(args, gpus)
    from .engines import describe_storage
    from .engines.queue import queued
    from .runner import counts, resolve_space, run_search, summary_table

    space = resolve_space(args.space, options)
    try:
        study = run_search(space, options)
    except KeyboardInterrupt:
        print(f"\ninterrupted: finished trials are saved; resume with: {_resume_command(args)}", file=sys.stderr)
        return EXIT_INTERRUPTED
    table = summary_table(study)
    tally = ", ".join(f"{n} {status}" for status, n in sorted(counts(study).items()))
    print(f"study '{space.study}': {tally or 'no trials'}")
    if not table.empty:
        print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(f"results: {describe_storage(options.storage, space.study, args.results_dir)}")
    left = queued(study) if options.workers != 0 else 0
    if left and space.optuna.timeout is None:
        print(f"cnn-search: {left} queued trial(s) were not run because every worker stopped (see the worker "
              f"logs); resume with: {_resume_command(args)}", file=sys.stderr)
        return EXIT_INCOMPLETE
    return 0


def _place_run(args: argparse.Namespace) -> list[int] | None:
    """The workers' GPUs; with worker processes, this process then hides the GPUs from itself.

    The parent only counts parameters and watches, and a backend started here
    would claim GPU memory the workers need, so the GPUs are looked up with
    nvidia-smi and hidden before Keras is imported.
    """
    from .workers.devices import apply_env, detect_gpus, parse_gpus, placement_env

    if args.workers is not None and args.workers < 0:
        raise ConfigError(f"--workers must be 0 (only create the study and its queue) or more, got {args.workers}")
    gpus = parse_gpus(args.gpus) if args.gpus is not None else None
    pool = bool(args.workers) or (args.workers is None and gpus is not None)
    if pool and gpus is None:
        gpus = detect_gpus()
    if pool or args.workers == 0:
        apply_env(placement_env(None))
    return gpus


def _run_options(args: argparse.Namespace, gpus: list[int] | None) -> Any:
    from .engines import Heartbeat
    from .runner import RunOptions

    return RunOptions(study=args.study, storage=args.storage, n_trials=args.n_trials, timeout=args.timeout,
                      subset=args.subset, epochs=args.epochs, test_subset=args.test_subset,
                      data_dir=args.data_dir, results_dir=args.results_dir, workers=args.workers, gpus=gpus,
                      trials_per_gpu=args.trials_per_gpu, heartbeat=Heartbeat(_heartbeat(args)))


def _heartbeat(args: argparse.Namespace) -> int:
    if args.heartbeat < 1:
        raise ConfigError(f"--heartbeat must be a whole number of seconds >= 1, got {args.heartbeat}")
    return args.heartbeat


def _cmd_worker(args: argparse.Namespace) -> int:
    from .workers.devices import apply_env, parse_device, placement_env, threads_env

    if args.threads is not None and args.threads < 1:
        raise ConfigError(f"--threads must be at least 1, got {args.threads}")
    env = placement_env(parse_device(args.device)) if args.device else {}
    apply_env({**env, **threads_env(args.threads)})
    import_backend_quietly()
    from .engines import Heartbeat
    from .workers.worker import WorkerOptions, run_worker

    options = WorkerOptions(study=args.study, storage=args.storage, results_dir=args.results_dir,
                            data_dir=args.data_dir, timeout=args.timeout, heartbeat=Heartbeat(_heartbeat(args)))
    try:
        run_worker(options)
    except KeyboardInterrupt:
        print("worker interrupted: its running trial was re-queued", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


def _cmd_leaderboard(args: argparse.Namespace) -> int:
    import_backend_quietly()
    from tabulate import tabulate

    from .engines import load_existing_study
    from .fileio import write_text
    from .reports.leaderboard import display_frame, leaderboard

    study = load_existing_study(args.study, args.storage, args.results_dir)
    board = leaderboard(study, by=args.by, metric=args.metric, top=args.top)
    if args.csv:
        write_text(args.csv, board.to_csv(index=False))
    print(tabulate(display_frame(board), headers="keys", showindex=False, disable_numparse=True,
                   tablefmt="github" if args.markdown else "simple"))
    if args.csv:
        print(f"wrote {args.csv}", file=sys.stderr)
    return 0


def _cmd_best(args: argparse.Namespace) -> int:
    import_backend_quietly()
    from .engines import load_existing_study
    from .handoff import best_spec, write_best

    study = load_existing_study(args.study, args.storage, args.results_dir)
    spec = best_spec(study, metric=args.metric, storage_url=args.storage)
    path = write_best(spec, args.output)
    print(f"{spec.variant} from trial {spec.source['trial']} ({spec.params:,} params, val accuracy "
          f"{spec.metrics['val_accuracy']:.4f}) written to {path}; retrain with: cnn-search train --from {path}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    import_backend_quietly()
    from .engines import load_existing_study
    from .reports.html import write_report

    study = load_existing_study(args.study, args.storage, args.results_dir)
    out = args.out or args.results_dir / args.study / "report"
    page = write_report(study, out, metric=args.metric, by=args.by)
    print(f"report written: {page} (open it in a browser; no server needed)")
    return 0


def _cmd_dashboard(args: argparse.Namespace) -> int:
    try:
        from optuna_dashboard import run_server
    except ImportError:
        raise ConfigError("dashboard needs optuna-dashboard: pip install -e '.[dashboard]'") from None
    from .engines import open_storage

    if args.storage is None and not (args.results_dir / args.study).is_dir():
        raise ConfigError(f"no study '{args.study}' under {args.results_dir}; run `cnn-search run` first")
    print(f"optuna-dashboard on http://127.0.0.1:{args.port}/ (Ctrl-C stops it)", file=sys.stderr)
    run_server(open_storage(args.storage, args.study, args.results_dir), host="127.0.0.1", port=args.port)
    return 0


def _add_study_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("study", help="study name")
    _add_storage_args(p)


def _add_storage_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--storage", default=os.environ.get(STORAGE_ENV) or None,
                   help=f"Optuna storage URL or .journal path (default: ${STORAGE_ENV}, else "
                        "results/<study>/study.journal)")
    p.add_argument("--results-dir", type=Path, default=Path("results"), help="where default studies live")


def _add_heartbeat_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--heartbeat", type=int, default=10, metavar="S",
                   help="seconds between a running trial's heartbeats; a trial silent for 5x this is failed "
                        "and retried (default 10)")


def _resume_command(args: argparse.Namespace) -> str:
    from .engines import mask_url

    return "cnn-search " + " ".join(shlex.quote(mask_url(a)) for a in args.argv)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cnn-search", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    models = sub.add_parser("models", help="list the model zoo with parameter counts")
    models.add_argument("--budget", type=int, help="mark which variants fit under N trainable params")
    models.set_defaults(handler=_cmd_models)

    train = sub.add_parser("train", help="train and evaluate one variant")
    train.add_argument("variant", nargs="?", help="a zoo variant (see `cnn-search models`)")
    train.add_argument("--from", dest="from_spec", type=Path, metavar="BEST_JSON",
                       help="retrain exactly the configuration of a `cnn-search best` spec")
    train.add_argument("--full-train", action="store_true", help="fit on train + validation (final runs)")
    train.add_argument("--set", action="append", metavar="KEY=VALUE", help="set a hyperparameter (repeatable)")
    train.add_argument("--epochs", type=int, help="epochs (default: the variant's)")
    train.add_argument("--batch-size", type=int, help="batch size (default: the variant's)")
    train.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    train.add_argument("--out", type=Path, default=Path("results/train"), help="output directory")
    train.add_argument("--quiet", action="store_true", help="no per-epoch progress")
    _add_data_args(train)
    train.set_defaults(handler=_cmd_train)

    run = sub.add_parser("run", help="run (or resume) the search described by a space file")
    run.add_argument("space", type=Path, help="a search-space file, e.g. spaces/quickstart.toml")
    run.add_argument("--study", help="study name (default: the file's)")
    run.add_argument("--n-trials", type=int, help="total trials the study should end with")
    run.add_argument("--timeout", type=float, help="stop starting trials after S seconds")
    run.add_argument("--subset", type=int, help="stratified subset of N training images")
    run.add_argument("--epochs", type=int, help="fixed epochs for every trial (overrides the file)")
    run.add_argument("--test-subset", type=int, help="evaluate on a stratified subset of N test images (fast runs)")
    run.add_argument("--data-dir", type=Path, help="directory with the Fashion-MNIST .gz files")
    _add_storage_args(run)
    run.add_argument("--workers", type=int, metavar="N",
                     help="run the trials in N local worker processes (0: only create the study and its queue, "
                          "for workers started elsewhere); default: in this process")
    run.add_argument("--gpus", metavar="LIST", help="GPU indices for the workers, e.g. 0,1 (default: all GPUs)")
    run.add_argument("--trials-per-gpu", type=int, default=1, metavar="K",
                     help="workers sharing each GPU (small models; default 1)")
    _add_heartbeat_arg(run)
    run.set_defaults(handler=_cmd_run)

    worker = sub.add_parser("worker", help="join a study and run its queued trials (any host)")
    worker.add_argument("study", help="study name (created by `cnn-search run`)")
    _add_storage_args(worker)
    worker.add_argument("--device", metavar="gpu:K|cpu", help="train on GPU K or on the CPU (default: the "
                        "backend's choice)")
    worker.add_argument("--threads", type=int, help="CPU threads for the backend (default: one per core)")
    worker.add_argument("--timeout", type=float, help="stop claiming trials after S seconds")
    worker.add_argument("--data-dir", type=Path, help="directory with the Fashion-MNIST .gz files")
    _add_heartbeat_arg(worker)
    worker.set_defaults(handler=_cmd_worker)

    from .reports.metrics import METRIC_NAMES

    board = sub.add_parser("leaderboard", help="rank a study's configurations")
    _add_study_args(board)
    board.add_argument("--by", choices=("config", "variant"), default="config", help="one row per ...")
    board.add_argument("--metric", choices=METRIC_NAMES, default="val_accuracy", help="sort by")
    board.add_argument("--top", type=int, help="only the best K rows")
    board.add_argument("--csv", type=Path, help="also write the table as CSV")
    board.add_argument("--markdown", action="store_true", help="print a Markdown table")
    board.set_defaults(handler=_cmd_leaderboard)

    best = sub.add_parser("best", help="write the best configuration as a spec for `train --from`")
    _add_study_args(best)
    best.add_argument("--metric", choices=METRIC_NAMES, default="val_accuracy", help="rank by")
    best.add_argument("-o", "--output", type=Path, default=Path("best.json"), help="spec file to write")
    best.set_defaults(handler=_cmd_best)

    report = sub.add_parser("report", help="write a static HTML report of a study")
    _add_study_args(report)
    report.add_argument("--out", type=Path, help="output directory (default: results/<study>/report)")
    report.add_argument("--metric", choices=METRIC_NAMES, default="val_accuracy", help="rank by")
    report.add_argument("--by", choices=("config", "variant"), help="learning curves per ... (default: auto)")
    report.set_defaults(handler=_cmd_report)

    dash = sub.add_parser("dashboard", help="live view of a study with optuna-dashboard on 127.0.0.1")
    _add_study_args(dash)
    dash.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    dash.set_defaults(handler=_cmd_dashboard)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    handler: Handler = args.handler
    signal.signal(signal.SIGTERM, _terminate)  # a scheduler's SIGTERM stops cleanly, like Ctrl-C
    try:
        return handler(args)
    except CnnSearchError as exc:
        print(f"cnn-search: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("cnn-search: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _one_line(exc: Any) -> str:
    return " ".join(str(exc).split())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
