"""Running a search-space file: the Python API behind ``cnn-search run``.

Loads and validates the space (budget feasibility included) before anything
trains, loads the dataset once for the whole process, then hands the study to
the engine the space names.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import optuna
import pandas as pd
from optuna.trial import TrialState

from .data import load_dataset
from .engines import describe_storage, finished_trials, open_storage, run_grid, run_optuna, target_trials
from .progress import TrialReporter
from .runtime import device_description, package_versions
from .spaces import ParamCounter, Space, load_space


@dataclass(frozen=True)
class RunOptions:
    """Command-line values that override the space file (None keeps the file's)."""

    study: str | None = None
    storage: str | None = None
    n_trials: int | None = None
    timeout: float | None = None
    subset: int | None = None
    epochs: int | None = None
    test_subset: int | None = None
    data_dir: Path | None = None
    results_dir: Path = Path("results")


def resolve_space(path: str | Path, options: RunOptions) -> Space:
    """The validated space with CLI overrides applied."""
    space = load_space(path)
    return space.with_overrides(study=options.study, n_trials=options.n_trials, timeout=options.timeout,
                                subset=options.subset, epochs=options.epochs, test_subset=options.test_subset)


def run_search(space: Space, options: RunOptions, stream: TextIO | None = None) -> optuna.Study:
    """Run or resume the study described by ``space``; returns the study."""
    stream = stream or sys.stderr
    storage = open_storage(options.storage, space.study, options.results_dir)
    dataset = load_dataset(space.data_options(), data_dir=options.data_dir)
    total = len(space.grid_points()) if space.engine == "grid" else target_trials(space)
    where = describe_storage(options.storage, space.study, options.results_dir)
    print(f"study '{space.study}' ({space.engine}) in {where}: {len(dataset.y_train):,} train / "
          f"{len(dataset.y_val):,} val images, target {total or 'timeout'} trials", file=stream, flush=True)
    reporter = TrialReporter(total, stream)
    engine = run_grid if space.engine == "grid" else run_optuna
    # Our progress lines report failed trials with their reason; Optuna's own
    # warning would add a traceback for every failure and for Ctrl-C.
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = engine(space, storage, dataset, ParamCounter(), callbacks=[reporter])
    if reporter.session_done == 0:
        print(f"nothing to run: the study already has {finished_trials(study)} finished trials "
              f"(target {total}); pass a larger --n-trials to run more", file=stream, flush=True)
    study.set_user_attr("versions", package_versions())
    study.set_user_attr("device", device_description())
    study.set_user_attr("seed", space.seed)
    return study


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
