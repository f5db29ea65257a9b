"""``cnn-search bench`` on the real data at tiny sizes: CSV rows, figures, and one-line errors."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
from benchrows import check_common, check_one_line_error, figures, run_bench

from search.bench import Context, append_rows, read_rows
from search.bench.cli import main
from search.bench.timing import rotations

INVOKED_AS = "python -m search.bench"


# --- pure helpers ---------------------------------------------------------------------------------


def test_rotations_put_every_contender_first_in_turn():
    orders = [order for _, order in rotations(["a", "b", "c"], 3)]
    assert orders == [["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"]]


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
    (["overhead"], "invalid choice: 'overhead'"),  # the engine's own benchmarks are the harness's (benchmarks/)
    (["throughput", "--epochs", "-1"], "--epochs: must be at least 1"),
    (["throughput", "--repeats", "0"], "--repeats: must be at least 1"),
    (["throughput", "--seconds", "-2"], "--seconds: must be positive"),
    (["throughput", "--data-dir", "/nonexistent/fashion"], "no such directory"),
    (["throughput", "--variants", "cnn,nope"], "unknown variant 'nope'"),
    (["all", "--small", "--variants", "nope"], "unknown variant 'nope'"),  # once, before any child starts
    (["all", "--sma"], "unrecognized arguments: --sma"),  # no abbreviations: `all` rebuilds children's argv
    (["workers", "--workers", "1,2", "--trials-per-gpu", "1,4"], "--workers and --trials-per-gpu both set"),
    (["workers", "--trials-per-gpu", "0,2"], "--trials-per-gpu: expected comma-separated positive integers"),
])
def test_bad_input_is_one_line_and_status_2(args, message, capsys, data_dir, tmp_path):
    check_one_line_error(main, args, message, "cnn-search bench", capsys, data_dir, tmp_path)


def test_the_module_prints_no_traceback(tmp_path):
    done = subprocess.run([sys.executable, "-m", "search.bench", "throughput", "--data-dir", str(tmp_path / "none")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith("cnn-search bench: error: ") and done.stderr.count("\n") == 1, done.stderr


# --- each benchmark, tiny -------------------------------------------------------------------------


def test_throughput_measures_each_variant(tmp_path, capsys, data_dir):
    import gc

    import keras

    from search.zoo import count_params

    before = (keras.Model.fit, keras.Model.predict, gc.collect)
    csvs, _ = run_bench(main, tmp_path, capsys, "throughput", "--variants", "m1,cnn", "--seconds", "0.1",
                        "--eval-batch", "128", "--data-dir", str(data_dir))
    # the installed package measures through callbacks and its own clock: Keras and gc are left as they were
    assert (keras.Model.fit, keras.Model.predict, gc.collect) == before
    rows = csvs["throughput"]
    check_common(rows, "throughput", INVOKED_AS)
    for metric in ("train_images_per_s", "eval_images_per_s"):
        values = figures(rows, metric)
        assert set(values) == {("m1", "keras"), ("cnn", "keras")}
        assert all(math.isfinite(v) and v > 0 for v in values.values())
    params = figures(rows, "params")
    assert params[("m1", "keras")] == count_params("m1") and params[("cnn", "keras")] == count_params("cnn")
    m1 = next(r for r in rows if r["variant"] == "m1" and r["metric"] == "train_images_per_s")
    assert m1["baseline"] == "cnn" and m1["batch_size"] == "512"  # m1's own batch size


def test_workers_measure_per_trial_and_total_throughput(tmp_path, capsys, data_dir):
    # --trials-per-gpu is the GPU host's spelling of --workers: K workers share GPU 0 (here: K CPU workers)
    csvs, _ = run_bench(main, tmp_path, capsys, "workers", "--trials-per-gpu", "1", "--worker-trials", "2",
                        "--data-dir", str(data_dir))
    rows = csvs["workers"]
    check_common(rows, "workers", INVOKED_AS)
    per_trial = figures(rows, "per_trial_images_per_s")
    total = figures(rows, "total_images_per_s")
    assert set(per_trial) == set(total) == {("cnn", "1 worker on cpu")}
    assert all(math.isfinite(v) and v > 0 for v in [*per_trial.values(), *total.values()])
    detail = json.loads(next(r["detail"] for r in rows if r["metric"] == "total_images_per_s"))
    assert detail["trials"] == 2 and detail["workers"] == 1 and len(detail["per_trial_images_per_s"]) == 2


def test_comparison_runs_seed003s_five_models_and_records_each(tmp_path, capsys, data_dir):
    csvs, _ = run_bench(main, tmp_path, capsys, "comparison", "--seeds", "1", "--data-dir", str(data_dir))
    rows = csvs["comparison"]
    check_common(rows, "comparison", INVOKED_AS)
    wall = next(r for r in rows if r["metric"] == "wall_time")
    assert json.loads(wall["detail"])["complete"] == 5 and float(wall["value"]) > 0
    assert wall["repeats"] == "1" and wall["epochs"] == "1"
    test = {variant: v for (variant, _), v in figures(rows, "test_accuracy").items()}
    assert set(test) == {"1A", "1B", "2", "3", "4"} and all(0 <= v <= 1 for v in test.values())
    params = {variant: v for (variant, _), v in figures(rows, "params").items()}
    assert params["1A"] == 1_633_274 and params["4"] == 4_811_786
