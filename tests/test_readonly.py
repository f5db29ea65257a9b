"""Read-only commands on committed studies: no deep-learning backend, quick, and output that fits a terminal."""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from terminal import terminal_table

import search
from search.reports.display import (
    MAX_WIDTH,
    display_frame,
    fit_width,
    header_lines,
    header_names,
    left_out_note,
    render,
)

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ("tensorflow", "jax", "torch", "keras")
#: Runs the CLI in a fresh interpreter, then reports which backends it left in ``sys.modules``.
PROBE = "\n".join([
    "import json, sys",
    "from search.cli import main",
    "code = main(sys.argv[1:])",
    f"loaded = sorted({{m.split('.')[0] for m in sys.modules}} & set({BACKENDS!r}))",
    "print(json.dumps({'code': code, 'loaded': loaded}), file=sys.stderr)",
])


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    """Copies of two committed studies: seed 001's rerun (one configuration, 3 runs) and budget50k (single runs)."""
    out = tmp_path_factory.mktemp("results")
    for study in ("seed001", "budget50k"):
        (out / study).mkdir()
        shutil.copy2(ROOT / "results" / study / "study.journal", out / study / "study.journal")
    return out


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "MPLBACKEND")}
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, cwd=ROOT, env=_env(**env), timeout=600)


@pytest.mark.parametrize("command", ["leaderboard", "best", "report"])
def test_read_only_commands_import_no_backend(command, results, tmp_path):
    extra = {"best": ["-o", str(tmp_path / "best.json")], "report": ["--out", str(tmp_path / "report")]}
    proc = _run([sys.executable, "-c", PROBE, command, "budget50k", "--results-dir", str(results),
                 *extra.get(command, [])])
    outcome = json.loads(proc.stderr.strip().splitlines()[-1])
    assert outcome == {"code": 0, "loaded": []}, proc.stderr
    if command == "best":
        assert json.loads((tmp_path / "best.json").read_text())["variant"] == "cnn"
    if command == "report":
        assert (tmp_path / "report" / "index.html").is_file()


def test_leaderboard_takes_at_most_twice_importing_optuna_and_pandas(results):
    """Side by side in fresh interpreters, best of 3 of each, as CPU time (user + system).

    Wall time on a shared 2-core machine varies by a factor of two from run
    to run with other processes' load; the CPU time a command spends does not,
    and it is what a read-only command costs (it waits on nothing but a file).
    """
    board = [sys.executable, "-m", "search", "leaderboard", "budget50k", "--results-dir", str(results)]
    imports = [sys.executable, "-c", "import optuna, pandas"]
    took: dict[str, list[float]] = {"board": [], "imports": []}
    for _ in range(3):
        for name, args in (("imports", imports), ("board", board)):
            took[name].append(_cpu_seconds(args))
    ratio = min(took["board"]) / min(took["imports"])
    assert ratio <= 2, f"leaderboard {min(took['board']):.2f} s, optuna + pandas {min(took['imports']):.2f} s (CPU)"


def _cpu_seconds(args: list[str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = _run(args)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert proc.returncode == 0, proc.stderr
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


@pytest.mark.parametrize("columns", ["80", "120", "400"])
def test_terminal_leaderboard_fits_and_says_what_each_row_is(results, columns):
    """Rank, status, variant, the hyperparameters that differ, and the score, within the width (at most 120)."""
    proc = _run([sys.executable, "-m", "search", "leaderboard", "budget50k", "--results-dir", str(results)],
                COLUMNS=columns)
    assert proc.returncode == 0, proc.stderr
    assert max(len(line) for line in proc.stdout.splitlines()) <= min(int(columns), MAX_WIDTH)
    table = terminal_table(proc.stdout)
    assert {"rank", "status", "variant", "filters_1", "val_accuracy_mean", "params"} <= set(table.columns), proc.stdout
    assert {"complete", "over_budget", "pruned"} <= set(table["status"])
    unranked = table[table["status"] != "complete"]
    assert (unranked["rank"] == "-").all() and (unranked["val_accuracy_mean"] == "-").all()
    assert unranked["filters_1"].str.fullmatch(r"\d+").all(), "a skipped configuration still shows its values"
    assert re.fullmatch(r"0\.\d{4}", table["val_accuracy_mean"].iloc[0])
    assert re.fullmatch(r"\d{1,3}(,\d{3})+", table["params"].iloc[0])
    assert "more columns not shown" in proc.stderr and "--csv" in proc.stderr and "--markdown" in proc.stderr


def test_markdown_keeps_every_column_with_a_value(results, tmp_path):
    """Whatever the width: every column of the CSV that has a value (single runs only: no spread at all)."""
    csv = tmp_path / "board.csv"
    proc = _run([sys.executable, "-m", "search", "leaderboard", "budget50k", "--results-dir", str(results),
                 "--markdown", "--csv", str(csv)], COLUMNS="80")
    assert proc.returncode == 0, proc.stderr
    header = _cells(proc.stdout.strip().splitlines()[0])
    assert header == list(pd.read_csv(csv).dropna(axis=1, how="all").columns)
    assert header[:3] == ["rank", "status", "variant"] and "val_accuracy_std" not in header
    assert "more columns not shown" not in proc.stderr


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def test_a_narrow_terminal_keeps_the_first_columns_and_repeats_keep_their_spread(results):
    proc = _run([sys.executable, "-m", "search", "leaderboard", "seed001", "--results-dir", str(results)],
                COLUMNS="70")
    assert proc.returncode == 0, proc.stderr
    assert max(len(line) for line in proc.stdout.splitlines()) <= 70
    row = terminal_table(proc.stdout).iloc[0]
    assert row["n"] == "3" and re.fullmatch(r"0\.\d{4}", row["val_accuracy_std"])


def test_numbers_are_formatted_per_column():
    board = pd.DataFrame({
        "rank": [1, 2], "variant": ["cnn", "cnn"], "hp_learning_rate": [0.00123456, 0.1],
        "params": [47582.0, 1633274.0], "n": [3, 1], "val_accuracy_mean": [0.90891, 0.8],
        "val_accuracy_std": [1.7e-17, 0.0], "train_time_mean_s": [455.2307, 3.04], "p_value": [float("nan"), 3e-7],
    })
    shown = display_frame(board)
    assert list(shown["val_accuracy_std"]) == ["0.0000", "-"], "a tiny spread is 0, one run has none"
    assert list(shown["params"]) == ["47,582", "1,633,274"]
    assert list(shown["val_accuracy_mean"]) == ["0.9089", "0.8000"]
    assert list(shown["train_time_mean_s"]) == ["455.2", "3.0"]
    assert list(shown["hp_learning_rate"]) == ["0.001235", "0.1"]
    assert list(shown["p_value"]) == ["-", "<0.0001"]
    narrow, left_out = fit_width(shown, 40)
    assert list(narrow.columns)[:2] == ["rank", "variant"] and "train_time_mean_s" in left_out
    assert set(narrow.columns) | set(left_out) == set(shown.columns)


def test_headers_wrap_at_underscores_to_the_width_of_their_numbers():
    assert header_lines("val_accuracy_mean", ["0.9285"]) == ["val", "accuracy", "mean"]
    assert header_lines("learning_rate", ["0.005941"]) == ["learning", "rate"]
    assert header_lines("rank", ["1", "-"]) == ["rank"]
    assert header_lines("train_time_mean_s", ["455.2"]) == ["train", "time", "mean_s"], "at most three lines"
    assert header_names(["rank", "hp_learning_rate", "hp_epochs", "epochs"]) == {
        "rank": "rank", "hp_learning_rate": "learning_rate", "hp_epochs": "hp_epochs", "epochs": "epochs"}
    board = pd.DataFrame({"rank": ["1", "-"], "status": ["complete", "over_budget"],
                          "hp_learning_rate": ["0.003", "0.1"]})
    assert render(board).splitlines() == [
        "                   learning",
        "rank  status           rate",
        "----  -----------  --------",
        "   1  complete        0.003",
        "   -  over_budget       0.1",
    ]
    assert terminal_table(render(board)).columns.tolist() == ["rank", "status", "learning_rate"]
    note = left_out_note(["hp_weight_decay", "hp_conv_dropout", "test_accuracy_mean"], 60)
    assert note.splitlines() == ["3 more columns not shown: weight_decay, conv_dropout, ...",
                                 "--csv FILE or --markdown give them all"]


def test_importing_the_package_leaves_matplotlibs_backend_and_figures_alone(tmp_path):
    code = f"""
import matplotlib
matplotlib.use("svg")
import pandas as pd
import search, search.reports, search.reports.figures, search.reports.html, search.training.plots
from search.training import plots
history = pd.DataFrame({{"epoch": [1, 2], "loss": [1.0, 0.5], "accuracy": [0.5, 0.7], "val_loss": [1.1, 0.6],
                        "val_accuracy": [0.4, 0.6]}})
plots.learning_curves(history, {str(tmp_path / "curves.png")!r})
import matplotlib.pyplot as plt
print(matplotlib.get_backend(), len(plt.get_fignums()))
"""
    proc = _run([sys.executable, "-c", code])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["svg", "0"]
    assert (tmp_path / "curves.png").stat().st_size > 0


def _documented_api_names() -> list[str]:
    """The names the guide's API page (docs/python-api.md, its "## The API" section) imports."""
    text = (ROOT / "docs" / "python-api.md").read_text(encoding="utf-8")
    section = text.split("\n## The API", 1)[1].split("\n## ", 1)[0]
    code = "\n".join(re.findall(r"```python\n(.*?)```", section, flags=re.S))
    names = []
    for imported in re.findall(r"^from search[\w.]* import ([^#\n]+)", code, flags=re.M):
        names += [n.strip() for n in imported.split(",")]
    return names


def test_every_name_the_api_docs_document_is_importable_from_search():
    names = _documented_api_names()
    assert {"TrainConfig", "train", "run_search", "leaderboard", "run_worker"} <= set(names)
    missing = [n for n in names if n not in search.__all__ or getattr(search, n, None) is None]
    assert not missing, f"documented in docs/python-api.md but not importable from search: {missing}"
