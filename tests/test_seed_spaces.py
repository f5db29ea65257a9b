"""The seed space files rerun each report at its own settings, and the results table reads their studies.

The settings asserted here are the reports' own numbers (see each file's
comments for where they come from and what was chosen where a report is
ambiguous); the tiny runs train each file's fastest model on a real subset
so a file that validates but cannot run is caught.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from search.cli import main
from search.data import load_dataset
from search.reports.seeds import FIGURES, SPACES, SeedResult, markdown_table, seed_results, write_seed_results
from search.runner import RunOptions, run_search
from search.spaces import Space, load_space, validate_space_dict
from search.zoo import build_model, get_variant, param_count
from search.zoo.training_recipe import base_rate

SEEDS_DIR = Path(__file__).resolve().parents[1] / "spaces" / "seeds"
FILES = sorted(p.name for p in SEEDS_DIR.glob("*.toml"))

# The fastest model of each file (docs/performance.md's throughput table), and what a tiny run must change:
# a grid's other points go, and ResNet50's ImageNet weights file is not on the test machines.
CHEAPEST = {"seed000.toml": "datacamp", "seed001.toml": "grid50k", "seed001-nadam.toml": "grid50k",
            "seed001-grid.toml": "grid50k",
            "seed003.toml": "1A", "seed004.toml": "m1", "seed004-resnet50.toml": "resnet50"}


def space(name: str) -> Space:
    return load_space(SEEDS_DIR / name)  # budget/feasibility checked too


def points(name: str) -> dict[str, tuple[int, int]]:
    """variant -> (epochs, batch size) of every grid point of a comparison."""
    s = space(name)
    return {v: (e, b) for v, _, e, b in (s.split_params(p) for p in s.grid_points())}


def test_every_seed_file_is_known_to_the_results_table_and_loads():
    assert FILES == sorted(SPACES) == sorted(CHEAPEST)
    assert {f.space for f in FIGURES} == set(SPACES)
    for name in FILES:
        s = space(name)
        assert s.study == Path(name).stem
        assert all(f.variant in s.variant_names() for f in FIGURES if f.space == name)


def test_seed000_is_the_tutorial_at_20_epochs_batch_64():
    s = space("seed000.toml")
    assert points("seed000.toml") == {"datacamp": (20, 64), "datacamp-dropout": (20, 64)}
    assert (s.data.normalize, s.data.val_fraction, s.validation.repeats) == ("scale", 0.2, 3)
    assert s.fixed["optimizer"] == "adam" and s.data_options().num_classes is None  # every class


def test_seed001_is_the_final_model_with_dropout_02_04_adadelta_at_rate_1():
    s = space("seed001.toml")
    assert points("seed001.toml") == {"grid50k": (20, 32)}
    assert s.fixed == {"activation": "relu", "dropout_rate": 0.2, "dropout_rate_2": 0.4, "kernel": 3,
                       "optimizer": "adadelta"}
    assert (s.data.normalize, s.max_params, s.validation.repeats) == ("standardize", 50_000, 3)
    model = build_model("grid50k", s.fixed)
    assert [layer.rate for layer in model.layers if type(layer).__name__ == "Dropout"] == [0.2, 0.4]
    assert param_count("grid50k", s.fixed).trainable == 47_582
    variant = get_variant("grid50k")
    assert base_rate(variant.resolve(s.fixed), variant.optimizer_rates) == 1.0, "TF1 Keras's 'Adadelta'"


def test_seed001_nadam_differs_from_seed001_in_the_optimizer_only():
    adadelta, nadam = space("seed001.toml"), space("seed001-nadam.toml")
    assert nadam.fixed == {**adadelta.fixed, "optimizer": "nadam"}
    assert (nadam.data, nadam.validation, points("seed001-nadam.toml")) == (
        adadelta.data, adadelta.validation, points("seed001.toml"))
    variant = get_variant("grid50k")
    assert base_rate(variant.resolve(nadam.fixed), variant.optimizer_rates) == 0.002, "TF1 Keras's 'nadam'"


def test_seed001_grid_is_the_reports_24_point_grid_on_its_44500_images():
    s = space("seed001-grid.toml")
    assert (s.engine, s.validation.folds, s.batch_size, s.max_params) == ("grid", 3, 32, 50_000)
    assert len(s.grid_points()) == 24 and s.grid_search_space()["epochs"] == [20, 30]
    assert (s.data.subset, s.data.normalize) == (44_500, "standardize")


def test_seed003_is_table_1_at_25_epochs():
    s = space("seed003.toml")
    assert points("seed003.toml") == {v: (25, 32) for v in ("1A", "1B", "2", "3", "4")}
    assert (s.data.normalize, s.validation.repeats, s.fixed["optimizer"]) == ("scale", 3, "adam")


def test_seed004_runs_each_model_at_its_own_epochs_and_batch_on_5_classes():
    assert points("seed004.toml") == {"m1": (50, 512), "m3": (50, 256), "m4": (30, 256)}
    assert points("seed004-resnet50.toml") == {"resnet50": (400, 256)}
    for name in ("seed004.toml", "seed004-resnet50.toml"):
        s = space(name)
        assert s.data_options().num_classes == 5 and s.fixed["num_classes"] == 5
        assert (s.fixed["optimizer"], s.fixed["learning_rate"], s.data.normalize) == ("adam", 0.001, "scale")
    # a command-line --epochs overrides every variant's own epochs (the tiny runs below rely on it)
    small = space("seed004.toml").with_overrides(epochs=1)
    assert {small.split_params(p)[2:] for p in small.grid_points()} == {(1, 512), (1, 256)}


def test_the_split_sizes_are_the_reports(data_dir):
    sizes = {}
    for name in ("seed001.toml", "seed004.toml"):
        d = load_dataset(space(name).data_options(), data_dir=data_dir, download=False)
        sizes[name] = (len(d.y_train), len(d.y_val), len(d.y_test), d.num_classes)
    assert sizes["seed001.toml"] == (44_500, 5_000, 10_000, 10), "Train on 44500 samples, validate on 5000"
    assert sizes["seed004.toml"] == (24_000, 6_000, 5_000, 5)


def tiny(name: str, **overrides: Any) -> Space:
    """The file's cheapest model only, one run of one epoch on 200 real images (a grid: one point, 2 folds)."""
    record = space(name).with_overrides(subset=200, epochs=1, test_subset=200).to_record()
    record["validation"].update(repeats=1, folds=2)
    if record.get("variants"):
        record["variants"] = [CHEAPEST[name]]
        record["per_variant"] = {k: v for k, v in record["per_variant"].items() if k == CHEAPEST[name]}
    record["search"] = {k: v[:1] for k, v in record["search"].items()}
    record["fixed"].update(overrides)
    return validate_space_dict(record, source=name)


def run_tiny(name: str, results_dir: Path, data_dir: Path, **overrides: Any) -> None:
    study = run_search(tiny(name, **overrides), RunOptions(results_dir=results_dir, data_dir=data_dir),
                       stream=io.StringIO()).study
    trials = study.get_trials(deepcopy=False)
    assert len(trials) == 1 and trials[0].user_attrs.get("status") == "complete", (name, trials[0].user_attrs)


CPU_FILES = [n for n in FILES if n != "seed004-resnet50.toml"]


@pytest.fixture(scope="module")
def tiny_results(tmp_path_factory, data_dir) -> Path:
    """Every file but ResNet50's run tiny, under the file's own study name (as the table looks them up)."""
    results = tmp_path_factory.mktemp("seeds") / "results"
    for name in CPU_FILES:
        run_tiny(name, results, data_dir)
    return results


@pytest.mark.slow
def test_tiny_resnet50_run_completes(tmp_path, data_dir):
    # Random weights: the ImageNet file the space names is not on the test machines.
    run_tiny("seed004-resnet50.toml", tmp_path, data_dir, weights=None)


def test_tiny_runs_complete_and_fill_the_results_table(tiny_results, tmp_path):
    table, results = write_seed_results(tmp_path / "seeds", spaces_dir=SEEDS_DIR, results_dir=tiny_results)
    by_model = {(r.figure.space, r.figure.variant, r.figure.metric): r for r in results}
    m1 = by_model[("seed004.toml", "m1", "test_accuracy")]
    assert m1.status == "measured" and m1.n == 1 and 0.2 < (m1.mean or 0) <= 1, "far above the 0.2 of chance"
    assert m1.within_spread is None, "one run has no spread to judge by"
    m3 = by_model[("seed004.toml", "m3", "test_accuracy")]
    assert m3.mean is None and m3.command == f"cnn-search run {SEEDS_DIR / 'seed004.toml'}"
    resnet = by_model[("seed004-resnet50.toml", "resnet50", "test_accuracy")]
    assert resnet.status == "not run yet" and "needs the ImageNet weights file" in markdown_table([resnet])
    grid = by_model[("seed001-grid.toml", "grid50k", "val_accuracy")]
    assert grid.n == 2 and grid.std is not None, "a grid point's spread is over its folds"
    assert sorted(p.name for p in (tmp_path / "seeds").iterdir()) == sorted(
        ["table.md", *(f"{Path(n).stem}.csv" for n in CPU_FILES)])
    text = table.read_text()
    assert "not run yet: `cnn-search run" in text and "| 004 | `m1` | test accuracy | 84.12 % |" in text
    board = pd.read_csv(tmp_path / "seeds" / "seed004.csv")
    assert list(board["variant"]) == ["m1"] and {"test_accuracy_mean", "time_per_epoch_s", "device"} <= set(board)


def test_the_cli_prints_the_table_it_writes(tiny_results, tmp_path, capsys):
    assert main(["seeds", "--spaces", str(SEEDS_DIR), "--results-dir", str(tiny_results),
                 "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr()
    assert printed.out == (tmp_path / "table.md").read_text().split("\n\n", 1)[1]
    assert "figures measured" in printed.err


def test_unrun_rows_name_the_command_and_the_spread_rule(tmp_path):
    results, boards = seed_results(spaces_dir=SEEDS_DIR, results_dir=tmp_path)
    assert not boards and all(r.status == "not run yet" and r.command.startswith("cnn-search run ") for r in results)
    assert markdown_table(results).count("not run yet") == len(FIGURES)
    figure = FIGURES[0]  # 0.9181
    assert SeedResult(figure, "", n=3, mean=0.9150, std=0.002, status="measured").within_spread is True
    assert SeedResult(figure, "", n=3, mean=0.9100, std=0.002, status="measured").within_spread is False
    rounded = next(f for f in FIGURES if f.rounding)  # "92 %": rounding widens the band
    assert SeedResult(rounded, "", n=3, mean=0.9245, std=0.001, status="measured").within_spread is True


@pytest.mark.parametrize("storage", ["postgresql://cnn:secret@db:5432/x"])
def test_commands_never_print_a_password(tmp_path, storage):
    from search.reports.seeds import run_command

    assert "secret" not in run_command(SEEDS_DIR / "seed000.toml", storage)
