"""Commands that read a finished (or running) study: leaderboard, best, report, dashboard, seeds."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..runtime import import_backend_quietly
from .common import add_storage_args, add_study_args


def register(sub: Any) -> None:
    from ..reports.metrics import METRIC_NAMES

    listing = sub.add_parser("studies", help="list the studies in a results directory or a storage",
                             description="List the studies in --results-dir (their study.journal files) or in "
                                         "--storage, with their trials. Example: cnn-search studies")
    add_storage_args(listing)
    listing.set_defaults(handler=cmd_studies)

    board = sub.add_parser("leaderboard", help="rank a study's configurations")
    add_study_args(board)
    board.add_argument("--by", choices=("config", "variant"), default="config",
                       help="one row per configuration (default) or per variant")
    board.add_argument("--metric", choices=METRIC_NAMES, default="val_accuracy", help="sort by")
    board.add_argument("--top", type=int, help="only the best K rows")
    board.add_argument("--csv", type=Path, help="also write the table as CSV")
    board.add_argument("--markdown", action="store_true", help="print a Markdown table")
    board.set_defaults(handler=cmd_leaderboard)

    best = sub.add_parser("best", help="write the best configuration as a spec for `train --from`")
    add_study_args(best)
    best.add_argument("--metric", choices=METRIC_NAMES, default="val_accuracy", help="rank by")
    best.add_argument("-o", "--output", type=Path, default=Path("best.json"), help="spec file to write")
    best.add_argument("--allow-test-set-leak", action="store_true",
                      help="let --metric test_accuracy/test_loss choose (the test score is then optimistic)")
    best.set_defaults(handler=cmd_best)

    report = sub.add_parser("report", help="write a static HTML report of a study")
    add_study_args(report)
    report.add_argument("--out", type=Path, help="output directory (default: results/<study>/report)")
    report.add_argument("--metric", choices=METRIC_NAMES, default="val_accuracy", help="rank by")
    report.add_argument("--by", choices=("config", "variant"), help="learning curves per configuration or per "
                        "variant (default: per variant in a comparison of variants, else per configuration)")
    report.set_defaults(handler=cmd_report)

    dash = sub.add_parser("dashboard", help="live view of a study with optuna-dashboard on 127.0.0.1")
    add_study_args(dash)
    dash.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    dash.set_defaults(handler=cmd_dashboard)

    seeds = sub.add_parser("seeds", help="the seed reports' figures against their reruns (spaces/seeds/)")
    add_storage_args(seeds)
    seeds.add_argument("--spaces", type=Path, default=Path("spaces/seeds"), help="the seed space files")
    seeds.add_argument("--out", type=Path, default=Path("results/seeds"),
                       help="where the leaderboard CSVs and table.md go (default results/seeds)")
    seeds.set_defaults(handler=cmd_seeds)


def cmd_studies(args: argparse.Namespace) -> int:
    """One line per study: name, engine, variant(s), trials by status."""
    from tabulate import tabulate

    from ..storages import journal_studies, load_existing_study

    if args.storage and "://" in args.storage:
        import optuna

        from ..storages import open_storage

        names = optuna.get_all_study_names(open_storage(args.storage, "", args.results_dir))
        where = "the storage"
    else:
        names, where = journal_studies(args.results_dir), str(args.results_dir)
    if not names:
        print(f"no studies in {where}; `cnn-search run SPACE.toml` creates one", file=sys.stderr)
        return 0
    rows = [_study_row(load_existing_study(name, args.storage if args.storage and "://" in args.storage else None,
                                           args.results_dir)) for name in names]
    print(tabulate(rows, headers=["study", "engine", "variant", "trials", "by status"], tablefmt="simple"))
    return 0


def _study_row(study: Any) -> list[Any]:
    from ..records import trial_status
    from ..reports.display import short_variant

    space = study.user_attrs.get("space") or {}
    variants = space.get("variants") or [space.get("variant")]
    counts: dict[str, int] = {}
    for trial in study.get_trials(deepcopy=False):
        status = trial_status(trial)
        counts[status] = counts.get(status, 0) + 1
    return [study.study_name, study.user_attrs.get("engine") or space.get("engine") or "-",
            ", ".join(short_variant(str(v)) for v in variants if v) or "-", sum(counts.values()),
            ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "-"]


def cmd_leaderboard(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from ..fileio import write_text
    from ..records import DATA_ATTR, describe_compute, describe_data, image_epochs_trained
    from ..reports.display import display_frame, fit_width, folded_rows, left_out_note, render, terminal_width
    from ..reports.leaderboard import METRICS, leaderboard
    from ..storages import load_existing_study

    study = load_existing_study(args.study, args.storage, args.results_dir)
    board = leaderboard(study, by=args.by, metric=args.metric, top=args.top)
    if args.csv:
        write_text(args.csv, board.to_csv(index=False))
    table, left_out, width = display_frame(board), [], terminal_width()
    if args.markdown:  # for pasting elsewhere: every column, under the CSV's names
        print(tabulate(table, headers="keys", showindex=False, disable_numparse=True, tablefmt="github"))
    else:  # a terminal gets what fits
        table, left_out = fit_width(table, width, first=[METRICS[args.metric][0]])
        print(render(table))
    if left_out:
        print(left_out_note(left_out, width), file=sys.stderr)
    folded = folded_rows(display_frame(board))
    if folded:
        print(f"note: {folded} row(s) hold several complete trials of the same configuration (n_complete); "
              "a row's figures are its best trial's", file=sys.stderr)
    print(f"compute: {describe_compute(image_epochs_trained(study.get_trials(deepcopy=False)))}", file=sys.stderr)
    data = describe_data(study.user_attrs.get(DATA_ATTR))
    if data:
        print(f"data: {data}", file=sys.stderr)
    if args.csv:
        print(f"wrote {args.csv}", file=sys.stderr)
    return 0


def cmd_best(args: argparse.Namespace) -> int:
    from ..handoff import best_spec, write_best
    from ..storages import load_existing_study

    study = load_existing_study(args.study, args.storage, args.results_dir)
    spec = best_spec(study, metric=args.metric, storage_url=args.storage, allow_test_set_leak=args.allow_test_set_leak)
    path = write_best(spec, args.output)
    print(f"{spec.variant} from trial {spec.source['trial']} ({spec.params:,} params, val accuracy "
          f"{spec.metrics['val_accuracy']:.4f}) written to {path}; retrain with: cnn-search train --from {path}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")  # the command writes files: no window, whatever display the host has
    from ..reports.html import write_report
    from ..storages import load_existing_study

    study = load_existing_study(args.study, args.storage, args.results_dir)
    out = args.out or args.results_dir / args.study / "report"
    page = write_report(study, out, metric=args.metric, by=args.by)
    print(f"report written: {page} (open it in a browser; no server needed)")
    return 0


def cmd_dashboard(args: argparse.Namespace) -> int:
    try:
        from optuna_dashboard import run_server
    except ImportError:
        raise ConfigError("dashboard needs optuna-dashboard: pip install -e '.[dashboard]'") from None
    from ..storages import open_storage

    if args.storage is None and not (args.results_dir / args.study).is_dir():
        raise ConfigError(f"no study '{args.study}' under {args.results_dir}; run `cnn-search run` first")
    print(f"optuna-dashboard on http://127.0.0.1:{args.port}/ (Ctrl-C stops it)", file=sys.stderr)
    run_server(open_storage(args.storage, args.study, args.results_dir), host="127.0.0.1", port=args.port)
    return 0


def cmd_seeds(args: argparse.Namespace) -> int:
    import_backend_quietly()
    from ..reports.seeds import markdown_table, write_seed_results

    table, results = write_seed_results(args.out, spaces_dir=args.spaces, results_dir=args.results_dir,
                                        storage=args.storage)
    print(markdown_table(results), end="")
    measured = sum(r.mean is not None for r in results)
    print(f"wrote {table} ({measured} of {len(results)} figures measured)", file=sys.stderr)
    return 0
