"""A static HTML report of one study: ``index.html`` with its PNG figures beside it.

The page opens from disk with no server and no network: inline CSS, a few
lines of inline JavaScript (it only counts the images that loaded, for tests
and for the curious), and relative ``<img>`` links to the PNGs that
:mod:`search.reports.figures` draws. Every value is HTML-escaped and every
file is written atomically.
"""

from __future__ import annotations

import datetime as dt
import html
import math
import numbers
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
from optuna.trial import FrozenTrial, TrialState

from .. import records
from ..data import CLASS_NAMES
from ..errors import ConfigError
from ..fileio import write_text
from . import figures
from .display import short_variant
from .leaderboard import CORRECTED_T, METRICS, PAIRED_T, leaderboard

INDEX = "index.html"
TOP_CURVES = 5
TOP_CONFUSED = 5
_STATUS_ORDER = (records.STATUS_COMPLETE, records.STATUS_PRUNED, records.STATUS_OVER_BUDGET,
                 records.STATUS_INVALID, records.STATUS_FAILED, records.STATUS_INTERRUPTED, "running", "waiting")
_MISSING = "—"


def write_report(study: optuna.Study, out: str | Path, *, metric: str = "val_accuracy",
                 by: str | None = None) -> Path:
    """Write ``out/index.html`` and its figures for ``study``; return the page's path.

    ``metric`` ranks the leaderboard (and so picks the best configuration).
    ``by`` chooses what the learning curves compare: ``"config"`` (the top
    configurations) or ``"variant"`` (each variant's best); by default
    variants when the study compares several, else configurations. The
    by-configuration table is always shown, the by-variant one too when the
    study has several variants or ``by="variant"``.
    """
    if metric not in METRICS:
        raise ConfigError(f"--metric {metric!r} is not known; allowed: {', '.join(METRICS)}")
    if by not in (None, "config", "variant"):
        raise ConfigError(f"--by {by!r} is not known; allowed: config, variant")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    board = leaderboard(study, by="config", metric=metric)
    variants = _variants(study, board)
    several = len(variants) > 1
    curves_by = by or ("variant" if several else "config")
    by_variant = leaderboard(study, by="variant", metric=metric) if several or by == "variant" else None

    written: list[Path | None] = []
    sections = [
        _leaderboard_section(board, by_variant, metric),
        _tradeoff_section(board, out, written),
        _curves_section(study, board, by_variant if curves_by == "variant" else None, out, written),
        _optuna_section(study, out, written),
        _best_section(study, board, metric, out, written),
    ]
    _remove_stale(out, {p.name for p in written if p is not None})
    body = _header(study, variants) + "".join(sections) + _footer()
    path = out / INDEX
    write_text(path, _page(f"cnn-search report: {study.study_name}", body))
    return path


# --- facts about the study ----------------------------------------------------------------------


def _variants(study: optuna.Study, board: pd.DataFrame) -> list[str]:
    space = study.user_attrs.get("space") or {}
    if space.get("variants"):
        return [str(v) for v in space["variants"]]
    if space.get("variant"):
        return [str(space["variant"])]
    return [str(v) for v in dict.fromkeys(board["variant"].dropna())] if not board.empty else []


def status_counts(study: optuna.Study) -> dict[str, int]:
    """How many trials have each record status (running/waiting ones by their state), known ones first."""
    counts: dict[str, int] = {}
    for trial in study.get_trials(deepcopy=False):
        status = records.trial_status(trial)
        counts[status] = counts.get(status, 0) + 1
    known = [s for s in _STATUS_ORDER if s in counts]
    return {s: counts[s] for s in [*known, *sorted(set(counts) - set(known))]}


def _engine(study: optuna.Study) -> str | None:
    engine = study.user_attrs.get("engine") or (study.user_attrs.get("space") or {}).get("engine")
    if engine:
        return str(engine)
    engines = {t.user_attrs.get("engine") for t in study.get_trials(deepcopy=False)} - {None}
    return ", ".join(sorted(map(str, engines))) or None


def _times(study: optuna.Study) -> tuple[dt.datetime | None, dt.datetime | None]:
    trials = study.get_trials(deepcopy=False)
    starts = [t.datetime_start for t in trials if t.datetime_start]
    ends = [t.datetime_complete for t in trials if t.datetime_complete]
    return (min(starts) if starts else None), (max(ends) if ends else None)


# --- formatting ---------------------------------------------------------------------------------


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA:
        return True
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isnan(float(value))


def fmt(value: Any, digits: int = 4) -> str:
    """A table cell's text (not yet escaped): floats to ``digits`` places, ints with separators."""
    if _missing(value):
        return _MISSING
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    if isinstance(value, numbers.Real):
        return f"{float(value):.{digits}f}"
    return str(value)


def fmt_int(value: Any) -> str:
    """A count with thousands separators (a column holding a missing value turns ints into floats)."""
    return _MISSING if _missing(value) else f"{round(float(value)):,}"


def _fmt_hp(value: Any, digits: int = 6) -> str:
    """A hyperparameter value as written in a space file: ``0.003``, ``32``, ``relu``.

    ``digits`` significant ones: where columns or legend entries stand side
    by side, 4 are what a person compares (``0.005941``, not ``0.00594136``).
    """
    if _missing(value):
        return _MISSING
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, numbers.Integral)):
        return f"{float(value):.{digits}g}"
    return str(value)


def _fmt_pm(mean: Any, std: Any, n: Any = None) -> str:
    """``mean ± std``; the spread is left out where it is unknown or there was a single run."""
    if _missing(mean):
        return _MISSING
    single = not _missing(n) and int(n) < 2
    return f"{float(mean):.4f}" if single or _missing(std) else f"{float(mean):.4f} ± {float(std):.4f}"


def _fmt_p(value: Any) -> str:
    return _MISSING if _missing(value) else f"{float(value):.3g}"


def _fmt_seconds(value: Any) -> str:
    return _MISSING if _missing(value) else f"{float(value):.2f}"


def _fmt_time(value: dt.datetime | None) -> str:
    return value.isoformat(sep=" ", timespec="seconds") if value else _MISSING


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _breakable(header: str) -> str:
    """An escaped header that may wrap after its underscores: ``label_smoothing`` is two short lines, if need be."""
    return _e(header).replace("_", "_<wbr>")


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, table_id: str = "", cls: str = "",
           row_classes: Sequence[str] = (), titles: Sequence[str] = ()) -> str:
    """An HTML table from already formatted (unescaped) cell texts."""
    head = "".join(f'<th title="{_e(titles[i])}">{_breakable(h)}</th>' if i < len(titles) and titles[i]
                   else f"<th>{_breakable(h)}</th>" for i, h in enumerate(headers))
    body = []
    for i, row in enumerate(rows):
        klass = f' class="{_e(row_classes[i])}"' if i < len(row_classes) and row_classes[i] else ""
        body.append(f"<tr{klass}>" + "".join(f"<td>{_e(cell)}</td>" for cell in row) + "</tr>")
    attrs = (f' id="{_e(table_id)}"' if table_id else "") + (f' class="{_e(cls)}"' if cls else "")
    return (f'<div class="scroll"><table{attrs}><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>")


# --- header -------------------------------------------------------------------------------------


def _header(study: optuna.Study, variants: Sequence[str]) -> str:
    attrs = study.user_attrs
    space = attrs.get("space") or {}
    seed = attrs.get("seed", space.get("seed"))
    created, finished = _times(study)
    counts = status_counts(study)
    total = sum(counts.values())
    count_text = ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in counts.items()) or "no trials yet"
    versions = attrs.get("versions") or {}
    version_text = ", ".join(f"{k} {v}" for k, v in versions.items()) if isinstance(versions, dict) else versions
    facts = [
        ("engine", _engine(study) or _MISSING),
        ("variant" if len(variants) == 1 else "variants", ", ".join(variants) or _MISSING),
        ("trials", f"{total} ({count_text})" if total else count_text),
        ("seed", _MISSING if seed is None else seed),
        ("device", attrs.get("device") or "not recorded"),
        ("versions", version_text or "not recorded"),
        ("created", _fmt_time(created)),
        ("last trial finished", _fmt_time(finished)),
    ]
    searched = _space_summary(space)
    if searched:
        facts.append(("space", searched))
    data = records.describe_data(attrs.get(records.DATA_ATTR))
    if data:
        facts.append(("data", data))
    items = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts)
    return (f"<header><h1>Study <code>{_e(study.study_name)}</code></h1>"
            f'<dl class="facts">{items}</dl></header>')


def _space_summary(space: dict[str, Any]) -> str:
    parts = []
    for key in ("epochs", "batch_size", "max_params"):
        if space.get(key) is not None:
            parts.append(f"{key} {fmt(space[key])}")
    fixed = space.get("fixed") or {}
    if fixed:
        parts.append("fixed " + ", ".join(f"{k}={_fmt_hp(v)}" for k, v in fixed.items()))
    search = space.get("search") or {}
    if search:
        parts.append("searched " + ", ".join(
            f"{k} {[_fmt_hp(x) for x in v] if isinstance(v, list) else _describe_range(v)}".replace("'", "")
            for k, v in search.items()))
    validation = space.get("validation") or {}
    if validation.get("method") == "kfold":
        parts.append(f"validation {validation.get('folds')}-fold")
    elif validation:
        parts.append(f"validation holdout × {validation.get('repeats', 1)} repeat(s)")
    subset = (space.get("data") or {}).get("subset")
    if subset:
        parts.append(f"subset {subset:,}")
    return "; ".join(parts)


def _describe_range(entry: Any) -> str:
    if isinstance(entry, dict) and "low" in entry:
        log = " log" if entry.get("log") else ""
        return f"{entry.get('type', '')} [{_fmt_hp(entry['low'])}, {_fmt_hp(entry['high'])}]{log}".strip()
    if isinstance(entry, dict) and "choices" in entry:
        return str([_fmt_hp(x) for x in entry["choices"]])
    return str(entry)


# --- leaderboard --------------------------------------------------------------------------------

_STATUS_TITLE = ("what became of the configuration (its best trial, or its last one): complete; pruned (stopped "
                 "early by the pruner); diverged (its loss became NaN); over budget (more parameters than the "
                 "budget: never trained); invalid (not a buildable model); failed (raised an error); interrupted "
                 "(stopped by Ctrl-C or a dead or hung worker, and queued again)")
_P_TESTS = {CORRECTED_T: "corrected t", PAIRED_T: "paired t"}

_COLUMN_TEXT: dict[str, tuple[str, str, Callable[[pd.Series], str]]] = {
    # column -> (header, tooltip, formatter of the whole row)
    "rank": ("rank", "", lambda r: fmt_int(r["rank"])),
    "status": ("status", _STATUS_TITLE, lambda r: fmt(r["status"]).replace("_", " ")),
    "variant": ("variant", "", lambda r: short_variant(fmt(r["variant"]))),
    "params": ("params", "trainable parameters", lambda r: fmt_int(r["params"])),
    "total_params": ("total params", "all parameters, batch-norm statistics included",
                     lambda r: fmt_int(r["total_params"])),
    "epochs": ("epochs", "", lambda r: fmt_int(r["epochs"])),
    "batch_size": ("batch", "batch size", lambda r: fmt_int(r["batch_size"])),
    "n": ("n", "runs per configuration (folds × repeats)", lambda r: fmt_int(r["n"])),
    "val_accuracy_mean": ("val accuracy", "mean ± std over runs",
                          lambda r: _fmt_pm(r["val_accuracy_mean"], r["val_accuracy_std"], r["n"])),
    "test_accuracy_mean": ("test accuracy", "mean ± std over runs",
                           lambda r: _fmt_pm(r["test_accuracy_mean"], r["test_accuracy_std"], r["n"])),
    "val_loss": ("val loss", "", lambda r: fmt(r["val_loss"])),
    "test_loss": ("test loss", "", lambda r: fmt(r["test_loss"])),
    "train_time_mean_s": ("train time (s)", "mean training time per run",
                          lambda r: _fmt_seconds(r["train_time_mean_s"])),
    "time_per_epoch_s": ("s / epoch", "mean time per epoch", lambda r: _fmt_seconds(r["time_per_epoch_s"])),
    "image_epochs": ("image-epochs", "training images × epochs this configuration's trials used",
                     lambda r: fmt_int(r["image_epochs"])),
    "p_value": ("p vs #1", "against the top row's runs (needs ≥ 3 paired runs); the test is named in the "
                "next column", lambda r: _fmt_p(r["p_value"])),
    "p_test": ("test", f"corrected t: k-fold, {CORRECTED_T} (folds share training images); paired t: repeats, "
               f"{PAIRED_T}", lambda r: _P_TESTS.get(r["p_test"], fmt(r["p_test"]))),
    "n_complete": ("complete", "complete trials", lambda r: fmt_int(r["n_complete"])),
    "n_pruned": ("pruned", "pruned trials", lambda r: fmt_int(r["n_pruned"])),
    "n_skipped": ("skipped", "over budget or invalid", lambda r: fmt_int(r["n_skipped"])),
    "n_failed": ("failed", "failed trials", lambda r: fmt_int(r["n_failed"])),
    "trial": ("trial", "number of the trial shown", lambda r: fmt_int(r["trial"])),
}
#: Columns left out when no row has a value (or, for counts, a non-zero one).
_OPTIONAL = ("test_accuracy_mean", "val_loss", "test_loss", "p_value", "p_test", "n_pruned", "n_skipped",
             "n_failed")
#: What says which row this is comes first, then the searched hyperparameters that differ between rows
#: (see :func:`_shown_columns`), then the figures compared, then the bookkeeping: the page is 1400 px wide, and
#: what does not fit scrolls inside the table's box, never what a person reads the table for.
_LEAD = ("rank", "status", "variant")
_FIGURES = ("val_accuracy_mean", "test_accuracy_mean", "params", "n", "train_time_mean_s", "p_value", "p_test",
            "val_loss", "test_loss", "time_per_epoch_s", "total_params", "epochs", "batch_size", "image_epochs",
            "n_complete", "n_pruned", "n_skipped", "n_failed", "trial")
#: Left out of the table, and named once under it, where every row has the same value.
_SAME_IN_EVERY_ROW = ("epochs", "batch_size")


def _shown_columns(board: pd.DataFrame) -> tuple[list[str], dict[str, Any]]:
    """The columns of the table in the order a person reads them, and those with one value in every row."""
    hps = [c for c in board.columns if c.startswith("hp_")]
    constant = {c: board[c].iloc[0] for c in [*hps, *_SAME_IN_EVERY_ROW] if _constant(board, c)}
    columns = [c for c in [*_LEAD, *hps, *_FIGURES] if c in board.columns and c not in constant]
    return [c for c in columns if c.startswith("hp_") or not _empty(board, c)], constant


def _constant(board: pd.DataFrame, column: str) -> bool:
    """One value in every row of several (a missing value counts as one: a conditional hyperparameter)."""
    return column in board.columns and len(board) > 1 and board[column].nunique(dropna=False) == 1 \
        and not _missing(board[column].iloc[0])


def _empty(board: pd.DataFrame, column: str) -> bool:
    values = board[column]
    return column in _OPTIONAL and (bool(values.isna().all()) or (column.startswith("n_") and not values.any()))


def leaderboard_table(board: pd.DataFrame, table_id: str) -> str:
    """The leaderboard as an escaped HTML table, with a line naming the values every row shares.

    The rank-1 row has class ``best``; rows without a rank (nothing trained
    to the end) have class ``unranked``.
    """
    columns, constant = _shown_columns(board)
    headers, titles, cells = [], [], []
    for column in columns:
        if column.startswith("hp_"):
            name = column[3:]
            headers.append(name)
            titles.append(f"hyperparameter {name}")
            cells.append(lambda r, c=column: _fmt_hp(r[c], digits=4))
        else:
            header, title, cell = _COLUMN_TEXT[column]
            headers.append(header)
            titles.append(title)
            cells.append(cell)
    rows = [[cell(row) for cell in cells] for _, row in board.iterrows()]
    classes = ["unranked" if _missing(r) else "best" if int(r) == 1 else "" for r in board["rank"]]
    table = _table(headers, rows, table_id=table_id, cls="board", row_classes=classes, titles=titles)
    return table + _same_in_every_row(constant)


def _same_in_every_row(constant: dict[str, Any]) -> str:
    if not constant:
        return ""
    names = {c: c[3:] if c.startswith("hp_") else _COLUMN_TEXT[c][0] for c in constant}
    text = ", ".join(f"{names[c]} = {_fmt_hp(v, digits=4)}" for c, v in constant.items())
    return f'<p class="same">The same in every row: {_e(text)}.</p>'


def _leaderboard_section(board: pd.DataFrame, by_variant: pd.DataFrame | None, metric: str) -> str:
    column, higher = METRICS[metric]
    order = "higher" if higher else "lower"
    parts = [f"<section id=\"leaderboard\"><h2>Leaderboard</h2><p>Ranked by <code>{_e(metric)}</code> "
             f"({_e(order)} is better); accuracies are mean ± standard deviation over each configuration's "
             "runs (folds × repeats); a configuration with a single run shows its accuracy alone.</p>"]
    if board.empty:
        parts.append('<p class="note">The study has no finished trials yet.</p>')
    else:
        parts.append(f"<h3>By configuration ({len(board)})</h3>" + leaderboard_table(board, "leaderboard-config"))
    if by_variant is not None and not by_variant.empty:
        parts.append("<h3>By variant (each variant's best configuration)</h3>"
                     + leaderboard_table(by_variant, "leaderboard-variant"))
    return "".join(parts) + "</section>"


# --- figures ------------------------------------------------------------------------------------


def _figure(path: Path | None, alt: str, caption: str, missing: str) -> str:
    if path is None:
        return f'<figure class="missing"><p class="note">{_e(missing)}</p></figure>'
    return (f'<figure><img src="{_e(path.name)}" alt="{_e(alt)}" loading="eager">'
            f"<figcaption>{_e(caption)}</figcaption></figure>")


def _tradeoff_section(board: pd.DataFrame, out: Path, written: list[Path | None]) -> str:
    time_png = figures.accuracy_vs_time(board, out / figures.ACCURACY_VS_TIME)
    params_png = figures.accuracy_vs_params(board, out / figures.ACCURACY_VS_PARAMS)
    written += [time_png, params_png]
    none = "no complete configuration to plot"
    caption = ("Complete configurations; error bars are the standard deviation over runs. The red line joins "
               "the Pareto front: configurations no other one beats on both accuracy and {}. Labels are ranks.")
    return ('<section id="tradeoffs"><h2>Accuracy against cost</h2><div class="grid">'
            + _figure(time_png, "validation accuracy against training time", caption.format("training time"),
                      none)
            + _figure(params_png, "validation accuracy against parameters", caption.format("parameter count"),
                      none)
            + "</div></section>")


def _trial_map(study: optuna.Study) -> dict[int, FrozenTrial]:
    return {t.number: t for t in study.get_trials(deepcopy=False)}


def config_label(row: pd.Series, several_variants: bool, differing: Sequence[str]) -> str:
    """``#2 learning_rate=0.0042, conv_dropout=0.09559``: the rank and the values that tell the curves apart.

    Only the hyperparameters in ``differing`` (those that differ between the
    curves drawn) are named, to 4 significant digits: the table has the rest.
    """
    hps = ", ".join(f"{c[3:]}={_fmt_hp(row[c], digits=4)}" for c in differing if not _missing(row[c]))
    variant = f"{short_variant(str(row['variant']))} " if several_variants or not hps else ""
    return f"#{fmt_int(row['rank'])} {variant}{hps}".strip()


def _differing(rows: pd.DataFrame) -> list[str]:
    """The searched hyperparameters that take more than one value among ``rows``."""
    return [c for c in rows.columns if c.startswith("hp_") and rows[c].nunique(dropna=False) > 1]


def _curves_section(study: optuna.Study, board: pd.DataFrame, by_variant: pd.DataFrame | None, out: Path,
                    written: list[Path | None]) -> str:
    trials = _trial_map(study)
    if by_variant is not None:
        rows, what = by_variant, "the best configuration of each variant"
        labels = [f"{short_variant(str(r['variant']))} (trial {fmt_int(r['trial'])})" for _, r in rows.iterrows()]
    else:
        rows, what = board.head(TOP_CURVES), f"the top {TOP_CURVES} configurations"
        several = board["variant"].nunique() > 1 if not board.empty else False
        differing = _differing(rows[rows["rank"].notna()])  # those drawn: only complete ones have curves
        labels = [config_label(r, several, differing) for _, r in rows.iterrows()]
    curves = []
    for label, (_, row) in zip(labels, rows.iterrows(), strict=True):
        trial = trials.get(int(row["trial"])) if not _missing(row.get("trial")) else None
        histories = trial.user_attrs.get("histories") if trial is not None else None
        if trial is not None and trial.state == TrialState.COMPLETE and histories and histories[0]:
            curves.append((label, histories[0]))
    path = figures.learning_curves(curves, out / figures.LEARNING_CURVES)
    written.append(path)
    if rows.empty or rows["rank"].isna().all():
        missing = "No complete configuration yet, so no learning curves."
    elif _engine(study) == "grid":
        missing = ("No per-epoch history in this study: GridSearchCV ran its folds in other processes "
                   "(n_jobs > 1), where their histories were not kept.")
    else:
        missing = "None of these configurations recorded a per-epoch history."
    return ('<section id="curves"><h2>Learning curves</h2>'
            + _figure(path, "accuracy per epoch", f"Validation metrics per epoch of {what} (first run of "
                      "each; for GridSearchCV, the first fold's training metrics: its folds validate only at "
                      "the end).", missing) + "</section>")


def _optuna_section(study: optuna.Study, out: Path, written: list[Path | None]) -> str:
    local: list[str] = []  # why a figure was skipped, shown in its place
    history = figures.optimization_history(study, out / figures.OPTIMIZATION_HISTORY, local)
    importances = figures.param_importances(study, out / figures.PARAM_IMPORTANCES, local)
    written += [history, importances]

    def reason(prefix: str) -> str:
        return next((n for n in local if n.startswith(prefix)), f"{prefix} not drawn")

    return ('<section id="optimization"><h2>Search</h2><div class="grid">'
            + _figure(history, "optimization history", "Each trial's validation accuracy and the best so far "
                      "(Optuna).", reason("optimization history"))
            + _figure(importances, "hyperparameter importances", _importance_caption(study),
                      reason("hyperparameter importances"))
            + "</div></section>")


def _importance_caption(study: optuna.Study) -> str:
    """Which evaluator, that it is optuna-dashboard's, and how many trials the figure rests on."""
    complete = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    top = max(1, math.ceil(figures.IMPORTANCE_TOP * complete))
    caption = (f"Importance of each searched hyperparameter for reaching the top "
               f"{figures.IMPORTANCE_TOP:.0%} of validation accuracies, by Optuna's {figures.IMPORTANCE_EVALUATOR}: "
               f"the evaluator optuna-dashboard uses, so the two rank the same study alike. "
               f"From {complete} complete trials")
    if top < 5:  # PED-ANOVA's authors ask for at least 5 trials in the top quantile
        return caption + f", of which the top {figures.IMPORTANCE_TOP:.0%} is {top}: read the ranking as a hint."
    return caption + "."


# --- best configuration -------------------------------------------------------------------------


def class_metrics(cm: Any, class_names: Sequence[str]) -> pd.DataFrame:
    """Per-class precision, recall, F1 and support from a confusion matrix (rows true, columns predicted)."""
    matrix = np.asarray(cm, dtype=float)
    tp = np.diag(matrix)
    predicted, support = matrix.sum(axis=0), matrix.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(support > 0, tp / support, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    frame = pd.DataFrame({"class": list(class_names), "precision": precision, "recall": recall, "f1": f1,
                          "support": support.astype(int)})
    total = max(int(support.sum()), 1)
    averages = [
        {"class": "macro avg", "precision": precision.mean(), "recall": recall.mean(), "f1": f1.mean(),
         "support": int(support.sum())},
        {"class": "weighted avg", "precision": float(precision @ support) / total,
         "recall": float(recall @ support) / total, "f1": float(f1 @ support) / total,
         "support": int(support.sum())},
    ]
    return pd.concat([frame, pd.DataFrame(averages)], ignore_index=True)


def confused_pairs(cm: Any, class_names: Sequence[str], top: int = TOP_CONFUSED) -> pd.DataFrame:
    """The ``top`` largest off-diagonal cells: true class, predicted class, count, share of the true class."""
    matrix = np.asarray(cm, dtype=int)
    support = matrix.sum(axis=1)
    cells = [(int(matrix[i, j]), i, j) for i in range(len(matrix)) for j in range(len(matrix))
             if i != j and matrix[i, j] > 0]
    cells.sort(key=lambda c: (-c[0], c[1], c[2]))
    rows = [{"true": class_names[i], "predicted": class_names[j], "count": n,
             "share": n / support[i] if support[i] else math.nan} for n, i, j in cells[:top]]
    return pd.DataFrame(rows, columns=["true", "predicted", "count", "share"])


def _names_for(cm: Any, study: optuna.Study) -> list[str]:
    """The class names the study's data recorded (Fashion-MNIST's for a study from before they were)."""
    size = len(cm)
    recorded = list((study.user_attrs.get(records.DATA_ATTR) or {}).get("class_names") or [])
    if len(recorded) >= size:
        return recorded[:size]
    return list(CLASS_NAMES[:size]) if size <= len(CLASS_NAMES) else [str(i) for i in range(size)]


def _best_section(study: optuna.Study, board: pd.DataFrame, metric: str, out: Path,
                  written: list[Path | None]) -> str:
    head = '<section id="best"><h2>Best configuration</h2>'
    ranked = board[board["rank"].notna()] if not board.empty else board
    if ranked.empty:
        written.append(None)
        return head + '<p class="note">No complete configuration yet.</p></section>'
    row = ranked.iloc[0]
    trial = _trial_map(study).get(int(row["trial"]))
    attrs = trial.user_attrs if trial is not None else {}
    hps = ", ".join(f"{k}={_fmt_hp(v)}" for k, v in (trial.params.items() if trial else ()))
    facts = [("trial", fmt_int(row["trial"])), ("variant", fmt(row["variant"])),
             ("searched values", hps or _MISSING), ("params", fmt_int(row["params"])),
             ("validation accuracy", _fmt_pm(row["val_accuracy_mean"], row["val_accuracy_std"], row["n"])),
             ("test accuracy", _fmt_pm(row["test_accuracy_mean"], row["test_accuracy_std"], row["n"])),
             ("runs", fmt_int(row["n"]))]
    parts = [head, f"<p>Rank 1 by <code>{_e(metric)}</code>.</p>",
             '<dl class="facts">' + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts) + "</dl>"]
    cm = attrs.get("test_confusion_matrix")
    png = figures.confusion_matrix(cm, _names_for(cm, study), out / figures.CONFUSION_MATRIX) if cm else None
    written.append(png)
    if png is None:
        command = f"cnn-search best {study.study_name} -o best.json && cnn-search train --from best.json"
        where = ("(add the <code>--storage</code> or <code>--results-dir</code> the search used, if it was not "
                 "the default)")
        parts.append('<p class="note" id="no-test-details">Test-set details (confusion matrix, per-class '
                     "metrics) are not available for this configuration: this study did not evaluate it on the "
                     "test set (grid studies never do). To get them, train the best configuration with test "
                     f"evaluation {where}:</p><pre><code>{_e(command)}</code></pre>")
        return "".join(parts) + "</section>"
    names = _names_for(cm, study)
    per_class = class_metrics(cm, names)
    pairs = confused_pairs(cm, names)
    parts.append('<div class="grid">' + _figure(png, "confusion matrix", "Test-set confusion matrix of the first "
                                                "run; colour is the share of the true class.", "") + "<div>")
    parts.append("<h3>Per class (test set)</h3>" + _table(
        ["class", "precision", "recall", "F1", "support"],
        ([r["class"], fmt(r["precision"], 3), fmt(r["recall"], 3), fmt(r["f1"], 3), fmt(r["support"])]
         for _, r in per_class.iterrows()),
        table_id="per-class", cls="small",
        row_classes=["" if i < len(names) else "avg" for i in range(len(per_class))]))
    parts.append(f"<h3>Most confused pairs (top {TOP_CONFUSED})</h3>")
    if pairs.empty:
        parts.append('<p class="note">No misclassified test images.</p>')
    else:
        parts.append(_table(["true", "predicted", "count", "share of true class"],
                            ([r["true"], r["predicted"], fmt(r["count"]), f"{r['share']:.1%}"]
                             for _, r in pairs.iterrows()), table_id="confused", cls="small"))
    return "".join(parts) + "</div></div></section>"


# --- page ---------------------------------------------------------------------------------------


def _footer() -> str:
    now = dt.datetime.now().astimezone().isoformat(sep=" ", timespec="seconds")
    return f"<footer>Generated by cnn-search on {_e(now)}.</footer>"


def _remove_stale(out: Path, keep: set[str]) -> None:
    """Remove figures an earlier report wrote in ``out`` that this one did not (they would mislead)."""
    for name in figures.FIGURES:
        if name not in keep:
            (out / name).unlink(missing_ok=True)


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;padding:1.5em 2em;
max-width:1400px;color:#1d232a;background:#fff}
h1{font-size:1.6em;margin:0 0 .4em}h2{font-size:1.25em;margin:1.6em 0 .5em;border-bottom:2px solid #dde3ea;
padding-bottom:.2em}h3{font-size:1.02em;margin:1em 0 .4em}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.92em}
pre{background:#f4f6f8;padding:.6em .8em;border-radius:4px;overflow-x:auto}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em;margin:0}
dl.facts dt{font-weight:600;color:#4a5560}dl.facts dd{margin:0}
.scroll{overflow-x:auto}
table{border-collapse:collapse;font-size:.86em;font-variant-numeric:tabular-nums}
th,td{padding:.3em .45em;border-bottom:1px solid #e3e7ec;text-align:right;white-space:nowrap}
th{background:#f4f6f8;position:sticky;top:0}th[title]{cursor:help;text-decoration:underline dotted}
td:nth-child(2),th:nth-child(2){text-align:left}
table.board th{white-space:normal;vertical-align:bottom}
table.board td:nth-child(3),table.board th:nth-child(3){text-align:left}
tr.unranked{color:#6b7580}p.same{color:#4a5560;font-size:.88em;margin:.35em 0 1em}
table.small td:first-child,table.small th:first-child{text-align:left}
tbody tr:hover{background:#f7fafc}tr.best{background:#eaf6ec;font-weight:600}tr.avg{color:#4a5560;font-style:italic}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(480px,1fr));gap:1.2em;align-items:start}
figure{margin:0}img{max-width:100%;height:auto;border:1px solid #e3e7ec;border-radius:4px}
figcaption{color:#4a5560;font-size:.88em;margin-top:.3em}
.note{color:#7a4b00;background:#fff6e0;border-left:4px solid #f0b400;padding:.5em .8em;margin:.5em 0}
footer{margin-top:2.5em;color:#7a8590;font-size:.85em}
"""

# Counts the images that loaded once every <img> has loaded or failed (tests read the result).
_JS = """
(function () {
  var images = Array.prototype.slice.call(document.images), pending = images.length, body = document.body;
  body.dataset.imagesTotal = String(images.length);
  function settle() {
    if (--pending > 0) return;
    body.dataset.imagesLoaded = String(images.filter(function (i) { return i.naturalWidth > 0; }).length);
  }
  if (!images.length) { pending = 1; settle(); return; }
  images.forEach(function (img) {
    if (img.complete) { settle(); return; }
    img.addEventListener("load", settle);
    img.addEventListener("error", settle);
  });
})();
"""


def _page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>{_e(title)}</title>\n'
            f"<style>{_CSS}</style>\n</head>\n<body>\n{body}\n<script>{_JS}</script>\n</body>\n</html>\n")
