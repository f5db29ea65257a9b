"""The benchmark command on the real data at tiny sizes: CSV rows, figures, and one-line errors."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from search.bench import COLUMNS, Context, append_rows, read_rows, trial_epochs
from search.bench.cli import main
from search.bench.timing import PhaseProfiler, rotations

TINY = ["--subset", "200", "--test-subset", "100", "--epochs", "1", "--repeats", "1"]


def run_bench(tmp_path, capsys, *args):
    """``python -m search.bench ARGS --out TMP`` in this process; the rows of each CSV written."""
    status = main([*args, *TINY, "--out", str(tmp_path)])
    out, err = capsys.readouterr()
    assert status == 0, err
    return {p.stem: read_rows(p) for p in tmp_path.glob("*.csv")}, out


def figures(rows, metric):
    return {(r["variant"], r["engine"]): float(r["value"]) for r in rows if r["metric"] == metric}


def check_common(rows, what):
    assert rows, f"no rows for {what}"
    assert list(rows[0]) == list(COLUMNS)
    for r in rows:
        assert r["what"] == what
        assert r["command"].startswith(f"python -m search.bench {what}")
        assert r["backend"] and r["device"].startswith(r["backend"])
        assert "keras" in json.loads(r["versions"])
        assert r["created_at"] and r["unit"]


# --- pure helpers ---------------------------------------------------------------------------------


def test_rotations_put_every_contender_first_in_turn():
    orders = [order for _, order in rotations(["a", "b", "c"], 3)]
    assert orders == [["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"]]


def test_profiler_counts_nested_calls_in_the_outer_phase():
    import time

    prof = PhaseProfiler()
    inner = prof.wrap("inner", lambda: time.sleep(0.02))
    outer = prof.wrap("outer", lambda: (time.sleep(0.02), inner()))
    outer()
    inner()
    assert prof.calls == {"outer": 1, "inner": 1}
    assert prof.seconds["outer"] >= 0.04 and 0.02 <= prof.seconds["inner"] < 0.04


def test_trial_epochs_follow_the_record_fields():
    assert trial_epochs({"status": "complete", "histories": [[{}, {}]] * 3, "n": 3}) == 6
    assert trial_epochs({"status": "complete", "epochs": 4, "n": 2}) == 8  # records without histories
    assert trial_epochs({"status": "pruned", "pruned_at_epoch": 1, "histories": []}) == 1
    assert trial_epochs({"status": "over_budget", "params": 10**6}) == 0


def test_all_passes_every_option_but_the_benchmark_to_its_children():
    from search.bench.cli import _without_benchmark

    assert _without_benchmark(["all", "--small"]) == ["--small"]
    assert _without_benchmark(["--small", "--out", "all", "all", "--seed", "3"]) == ["--small", "--out", "all",
                                                                                      "--seed", "3"]


def test_append_rows_keeps_earlier_rows_and_one_header(tmp_path):
    ctx = Context(command="c", device="d", backend="b", versions="{}", created_at="t")
    path = tmp_path / "x.csv"
    append_rows(path, [{"what": "x", "metric": "m", "value": 1.5}])
    append_rows(path, [{"what": "x", "metric": "m", "value": 2.5, "device": ctx.device}])
    rows = read_rows(path)
    assert [r["value"] for r in rows] == ["1.5", "2.5"]
    assert path.read_text().count("what,variant") == 1


# --- errors -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("args, message", [
    (["nonsense"], "invalid choice: 'nonsense'"),
    (["overhead", "--epochs", "-1"], "--epochs: must be at least 1"),
    (["overhead", "--repeats", "0"], "--repeats: must be at least 1"),
    (["throughput", "--seconds", "-2"], "--seconds: must be positive"),
    (["overhead", "--data-dir", "/nonexistent/fashion"], "no such directory"),
    (["overhead", "--variant", "resnet5O"], "unknown variant 'resnet5O'"),
    (["throughput", "--variants", "cnn,nope"], "unknown variant 'nope'"),
    (["efficiency", "--grid-space", "/nonexistent.toml"], "no such space file"),
    (["all", "--small", "--variant", "nope"], "unknown variant 'nope'"),  # once, before any child starts
    (["all", "--sma"], "unrecognized arguments: --sma"),  # no abbreviations: `all` rebuilds children's argv
    (["workers", "--workers", "1,2", "--trials-per-gpu", "1,4"], "--workers and --trials-per-gpu both set"),
    (["workers", "--trials-per-gpu", "0,2"], "--trials-per-gpu: expected comma-separated positive integers"),
])
def test_bad_input_is_one_line_and_status_2(args, message, capsys, data_dir, tmp_path):
    extra = [] if "--data-dir" in args else ["--data-dir", str(data_dir)]
    try:
        status = main([*args, *extra, "--out", str(tmp_path)])
    except SystemExit as exc:  # argparse's own checks exit from parse_args
        status = exc.code
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1 and err.startswith("cnn-search bench: error: ") and message in err, err
    assert not list(tmp_path.glob("*.csv"))


def test_the_module_prints_no_traceback(tmp_path):
    done = subprocess.run([sys.executable, "-m", "search.bench", "startup", "--data-dir", str(tmp_path / "none")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith("cnn-search bench: error: ") and done.stderr.count("\n") == 1, done.stderr


# --- each benchmark, tiny -------------------------------------------------------------------------


def test_overhead_writes_engine_and_bare_timings(tmp_path, capsys, data_dir):
    csvs, out = run_bench(tmp_path, capsys, "overhead", "--variant", "m1", "--folds", "2",
                          "--data-dir", str(data_dir))
    rows = csvs["overhead"]
    check_common(rows, "overhead")
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


def test_throughput_measures_each_variant(tmp_path, capsys, data_dir):
    from search.zoo import count_params

    csvs, _ = run_bench(tmp_path, capsys, "throughput", "--variants", "m1,cnn", "--seconds", "0.1",
                        "--eval-batch", "128", "--data-dir", str(data_dir))
    rows = csvs["throughput"]
    check_common(rows, "throughput")
    for metric in ("train_images_per_s", "eval_images_per_s"):
        values = figures(rows, metric)
        assert set(values) == {("m1", "keras"), ("cnn", "keras")}
        assert all(math.isfinite(v) and v > 0 for v in values.values())
    params = figures(rows, "params")
    assert params[("m1", "keras")] == count_params("m1") and params[("cnn", "keras")] == count_params("cnn")
    m1 = next(r for r in rows if r["variant"] == "m1" and r["metric"] == "train_images_per_s")
    assert m1["baseline"] == "cnn" and m1["batch_size"] == "512"  # m1's own batch size


def test_startup_breaks_down_time_to_first_epoch(tmp_path, capsys, data_dir):
    csvs, _ = run_bench(tmp_path, capsys, "startup", "--startup-repeats", "1", "--data-dir", str(data_dir))
    rows = csvs["startup"]
    check_common(rows, "startup")
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
    check_common(rows, "efficiency")
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


def test_workers_measure_per_trial_and_total_throughput(tmp_path, capsys, data_dir):
    # --trials-per-gpu is the GPU host's spelling of --workers: K workers share GPU 0 (here: K CPU workers)
    csvs, _ = run_bench(tmp_path, capsys, "workers", "--trials-per-gpu", "1", "--worker-trials", "2",
                        "--data-dir", str(data_dir))
    rows = csvs["workers"]
    check_common(rows, "workers")
    per_trial = figures(rows, "per_trial_images_per_s")
    total = figures(rows, "total_images_per_s")
    assert set(per_trial) == set(total) == {("cnn", "1 worker on cpu")}
    assert all(math.isfinite(v) and v > 0 for v in [*per_trial.values(), *total.values()])
    detail = json.loads(next(r["detail"] for r in rows if r["metric"] == "total_images_per_s"))
    assert detail["trials"] == 2 and detail["workers"] == 1 and len(detail["per_trial_images_per_s"]) == 2


def test_options_time_each_training_setting_against_the_default(tmp_path, capsys, data_dir):
    csvs, _ = run_bench(tmp_path, capsys, "options", "--data-dir", str(data_dir))
    rows = csvs["options"]
    check_common(rows, "options")
    times = figures(rows, "wall_time")
    assert {engine for _, engine in times} >= {"default", "steps_per_execution=8", "jit_compile", "mixed_bfloat16"}
    assert all(math.isfinite(v) and v > 0 for v in times.values())
    spe = next(r for r in rows if r["engine"] == "steps_per_execution=8" and r["metric"] == "wall_time")
    assert spe["baseline"] == "default" and float(spe["ratio"]) == pytest.approx(
        float(spe["value"]) / times[("cnn", "default")])


def test_comparison_runs_seed003s_five_models_and_records_each(tmp_path, capsys, data_dir):
    csvs, _ = run_bench(tmp_path, capsys, "comparison", "--seeds", "1", "--data-dir", str(data_dir))
    rows = csvs["comparison"]
    check_common(rows, "comparison")
    wall = next(r for r in rows if r["metric"] == "wall_time")
    assert json.loads(wall["detail"])["complete"] == 5 and float(wall["value"]) > 0
    assert wall["repeats"] == "1" and wall["epochs"] == "1"
    test = {variant: v for (variant, _), v in figures(rows, "test_accuracy").items()}
    assert set(test) == {"1A", "1B", "2", "3", "4"} and all(0 <= v <= 1 for v in test.values())
    params = {variant: v for (variant, _), v in figures(rows, "params").items()}
    assert params["1A"] == 1_633_274 and params["4"] == 4_811_786
