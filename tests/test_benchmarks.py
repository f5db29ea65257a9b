"""The development harness (``benchmarks/``) on the real data at tiny sizes: rows, figures, one-line errors."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from benchrows import TINY, check_common, check_one_line_error, figures, run_bench

from benchmarks.cli import main
from benchmarks.efficiency import trial_epochs
from benchmarks.phases import PhaseProfiler
from search.bench import read_rows

INVOKED_AS = "python -m benchmarks"
ROOT = Path(__file__).resolve().parents[1]


# --- pure helpers ---------------------------------------------------------------------------------


def test_profiler_counts_nested_calls_in_the_outer_phase():
    import time

    prof = PhaseProfiler()
    inner = prof.wrap("inner", lambda: time.sleep(0.02))
    outer = prof.wrap("outer", lambda: (time.sleep(0.02), inner()))
    outer()
    inner()
    assert prof.calls == {"outer": 1, "inner": 1}
    assert prof.seconds["outer"] >= 0.04 and 0.02 <= prof.seconds["inner"] < 0.04


def test_profiler_restores_what_it_wrapped():
    import gc

    import keras

    originals = (keras.Model.fit, gc.collect)
    with PhaseProfiler().patched([(keras.Model, "fit", "fit"), (gc, "collect", "gc_collect")]):
        assert (keras.Model.fit, gc.collect) != originals
    assert (keras.Model.fit, gc.collect) == originals
    assert "fit" not in vars(keras.Model)  # an inherited method is inherited again, not copied onto the class


def test_trial_epochs_follow_the_record_fields():
    assert trial_epochs({"status": "complete", "histories": [[{}, {}]] * 3, "n": 3}) == 6
    assert trial_epochs({"status": "complete", "epochs": 4, "n": 2}) == 8  # records without histories
    assert trial_epochs({"status": "pruned", "pruned_at_epoch": 1, "histories": []}) == 1
    assert trial_epochs({"status": "over_budget", "params": 10**6}) == 0


def test_the_harness_is_not_in_the_installed_package():
    from setuptools import find_packages

    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = find_packages(where=str(ROOT), include=include)
    assert "search.bench" in packages and not [p for p in packages if p.split(".")[0] == "benchmarks"]


# --- errors -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("args, message", [
    (["nonsense"], "invalid choice: 'nonsense'"),
    (["overhead", "--epochs", "-1"], "--epochs: must be at least 1"),
    (["overhead", "--repeats", "0"], "--repeats: must be at least 1"),
    (["overhead", "--data-dir", "/nonexistent/fashion"], "no such directory"),
    (["overhead", "--variant", "resnet5O"], "unknown variant 'resnet5O'"),
    (["efficiency", "--grid-space", "/nonexistent.toml"], "no such space file"),
    (["all", "--small", "--variant", "nope"], "unknown variant 'nope'"),  # once, before any child starts
    (["all", "--sma"], "unrecognized arguments: --sma"),  # no abbreviations: `all` rebuilds children's argv
])
def test_bad_input_is_one_line_and_status_2(args, message, capsys, data_dir, tmp_path):
    check_one_line_error(main, args, message, "python -m benchmarks", capsys, data_dir, tmp_path)


@pytest.mark.parametrize("command, prog", [
    (["-m", "benchmarks", "startup"], "python -m benchmarks"),
    (["-m", "benchmarks.startup"], "python -m benchmarks.startup"),
    (["benchmarks/startup.py"], "python benchmarks/startup.py"),
])
def test_each_way_of_running_it_prints_no_traceback(command, prog, tmp_path):
    done = subprocess.run([sys.executable, *command, "--data-dir", str(tmp_path / "none")], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith(f"{prog}: error: ") and done.stderr.count("\n") == 1, done.stderr


# --- each benchmark, tiny -------------------------------------------------------------------------


def test_overhead_writes_engine_and_bare_timings(tmp_path, capsys, data_dir):
    csvs, out = run_bench(main, tmp_path, capsys, "overhead", "--variant", "m1", "--folds", "2",
                          "--data-dir", str(data_dir))
    rows = csvs["overhead"]
    check_common(rows, "overhead", INVOKED_AS)
    wall = {engine: v for (_, engine), v in figures(rows, "wall_time").items()}
    assert {"bare", "optuna", "bare-kfold", "grid"} <= set(wall)
    assert all(v > 0 for v in wall.values())
    by_engine = {r["engine"]: r for r in rows if r["metric"] == "wall_time"}
    assert by_engine["optuna"]["baseline"] == "bare" and by_engine["grid"]["baseline"] == "bare-kfold"
    assert float(by_engine["optuna"]["ratio"]) == pytest.approx(wall["optuna"] / wall["bare"])
    assert float(by_engine["grid"]["ratio"]) == pytest.approx(wall["grid"] / wall["bare-kfold"])
    outside = next(r for r in rows if r["engine"] == "optuna" and r["metric"] == "overhead_outside_fit")
    assert float(outside["value"]) > 0, "a trial always does more than bare Keras outside fit (predict, gc)"
    fit = {engine: v for (_, engine), v in figures(rows, "phase_fit").items()}
    assert all(0 < fit[e] < wall[e] for e in wall), (fit, wall)
    # a k-fold point fits k models: the engine's record and the bare loop must agree on that
    calls = json.loads(by_engine["grid"]["detail"])["calls"]
    assert calls["fit"] == 2 and json.loads(by_engine["bare-kfold"]["detail"])["calls"]["fit"] == 2
    # the same configuration really ran: with one seed, engine and bare runs reach the same accuracy
    acc = {e: json.loads(r["detail"])["val_accuracy"][0] for e, r in by_engine.items()}
    assert acc["optuna"] == pytest.approx(acc.get("bare-deterministic", acc["bare"]), abs=1e-6)
    assert acc["grid"] == pytest.approx(acc["bare-kfold"], abs=1e-6)
    assert all(r["variant"] == "m1" and r["epochs"] == "1" and r["subset"] == "200" for r in rows)
    assert "wall_time" in out and "optuna" in out


def test_startup_breaks_down_time_to_first_epoch(tmp_path, capsys, data_dir):
    csvs, _ = run_bench(main, tmp_path, capsys, "startup", "--startup-repeats", "1", "--data-dir", str(data_dir))
    rows = csvs["startup"]
    check_common(rows, "startup", INVOKED_AS)
    value = {r["metric"]: float(r["value"]) for r in rows}
    assert value["phase_import_backend"] > 0 and value["phase_first_epoch"] > 0
    phases = sum(v for k, v in value.items() if k.startswith("phase_"))
    assert phases == pytest.approx(value["time_to_first_epoch"], abs=0.05)
    assert value["end_to_end"] > value["phase_import_backend"]
    command = json.loads(next(r for r in rows if r["metric"] == "end_to_end")["detail"])["command"]
    assert "run spaces/quickstart.toml --n-trials 1 --epochs 1 --subset 1000 --test-subset 1000" in command


GRID = """
study = "g"
variant = "cnn"
engine = "grid"
max_params = 50000
[fixed]
blocks = 1
filters_1 = 4
dense_units = 16
[search]
activation = ["relu", "elu"]
[validation]
method = "kfold"
folds = 2
"""

OPTUNA = """
study = "o"
variant = "cnn"
max_params = 50000
[fixed]
blocks = 1
dense_units = 16
[search]
filters_1 = { type = "int", low = 2, high = 8 }
[optuna]
sampler = "tpe"
pruner = "hyperband"
n_trials = 3
"""


def test_efficiency_charges_each_search_for_its_epochs(tmp_path, capsys, data_dir):
    """Tiny stand-in spaces (the shipped grid is 36 fits even at one epoch: too slow for a unit test)."""
    (tmp_path / "spaces").mkdir()
    (tmp_path / "spaces/grid.toml").write_text(GRID)
    (tmp_path / "spaces/optuna.toml").write_text(OPTUNA)
    out = tmp_path / "out"
    status = main(["efficiency", *TINY, "--epochs", "2", "--n-trials", "3", "--data-dir", str(data_dir),
                   "--grid-space", str(tmp_path / "spaces/grid.toml"),
                   "--optuna-space", str(tmp_path / "spaces/optuna.toml"), "--out", str(out)])
    assert status == 0, capsys.readouterr().err
    rows = read_rows(out / "efficiency.csv")
    check_common(rows, "efficiency", INVOKED_AS)
    total = {engine: v for (_, engine), v in figures(rows, "total_epochs").items()}
    assert total["grid"] == 2 * 2 * 2  # points x folds x epochs
    assert 0 < total["optuna"] <= 3 * 2
    to_best = {engine: v for (_, engine), v in figures(rows, "epochs_to_best").items()}
    assert all(0 < to_best[e] <= total[e] for e in total)
    test = {engine: v for (_, engine), v in figures(rows, "best_test_accuracy").items()}
    assert all(0.0 < v <= 1.0 for v in test.values())
    grid_test = next(r for r in rows if r["engine"] == "grid" and r["metric"] == "best_test_accuracy")
    assert json.loads(grid_test["detail"])["final_run_epochs"] == 2
    optuna_total = next(r for r in rows if r["engine"] == "optuna" and r["metric"] == "total_epochs")
    assert float(optuna_total["ratio"]) == pytest.approx(total["optuna"] / total["grid"])


def test_options_time_each_training_setting_against_the_default(tmp_path, capsys, data_dir):
    csvs, _ = run_bench(main, tmp_path, capsys, "options", "--data-dir", str(data_dir))
    rows = csvs["options"]
    check_common(rows, "options", INVOKED_AS)
    times = figures(rows, "wall_time")
    assert {engine for _, engine in times} >= {"default", "steps_per_execution=8", "jit_compile", "mixed_bfloat16"}
    assert all(math.isfinite(v) and v > 0 for v in times.values())
    spe = next(r for r in rows if r["engine"] == "steps_per_execution=8" and r["metric"] == "wall_time")
    assert spe["baseline"] == "default" and float(spe["ratio"]) == pytest.approx(
        float(spe["value"]) / times[("cnn", "default")])
