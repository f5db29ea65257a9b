"""Leaderboards and the best-params handoff, on real (small) studies."""

from __future__ import annotations

import csv
import json
import math

import optuna
import pandas as pd
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.trial import TrialState, create_trial
from terminal import terminal_table

from search.cli import main
from search.handoff import best_spec, load_best, train_config, write_best
from search.reports.leaderboard import (
    COLUMNS,
    CORRECTED_T,
    PAIRED_T,
    corrected_resampled_t,
    leaderboard,
    paired_t,
)
from search.runner import RunOptions, resolve_space, run_search
from search.storages import load_existing_study, open_storage
from search.training import train
from search.zoo import build_model


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    return tmp_path_factory.mktemp("results")


@pytest.fixture(scope="module")
def variants_study(results, data_dir):
    """Seed 003's comparison (1A, 1B, 2, 3, 4 with 3 seeds each), shrunk to 300 images and 1 epoch.

    Its models are the report's (up to 6.7 M parameters, 50 images/s on 2 cores): the subsets set its cost.
    """
    options = RunOptions(subset=300, epochs=1, test_subset=200, data_dir=data_dir, results_dir=results)
    return run_search(resolve_space("spaces/variants.toml", options), options).study


@pytest.fixture(scope="module")
def quick_study(results, data_dir):
    options = RunOptions(subset=800, n_trials=4, data_dir=data_dir, results_dir=results, epochs=2,
                         test_subset=1000)
    return run_search(resolve_space("spaces/quickstart.toml", options), options).study


#: trial -> (state, status recorded, learning rate, runs); the configurations of a study that met every outcome
OUTCOMES = {
    "complete": (TrialState.COMPLETE, "complete", 0.003, 3),
    "single": (TrialState.COMPLETE, "complete", 0.01, 1),
    "pruned": (TrialState.PRUNED, "pruned", 0.03, None),
    "over_budget": (TrialState.PRUNED, "over_budget", 0.1, None),
    "diverged": (TrialState.PRUNED, "diverged", 0.3, None),
    "failed": (TrialState.FAIL, "failed", 0.001, None),
    "interrupted": (TrialState.FAIL, None, 0.0003, None),
}


@pytest.fixture(scope="module")
def outcomes_dir(tmp_path_factory):
    """A study (no training: its trials are written as a search records them) with one trial per outcome.

    Every configuration has its own learning rate and the same activation, so
    one searched hyperparameter varies between rows and one does not.
    """
    results = tmp_path_factory.mktemp("outcomes")
    study = optuna.create_study(study_name="outcomes", storage=open_storage(None, "outcomes", results),
                                direction="maximize")
    distributions = {"learning_rate": FloatDistribution(1e-4, 1.0, log=True),
                     "activation": CategoricalDistribution(["relu", "gelu"])}
    for state, status, rate, n in OUTCOMES.values():
        attrs = {"variant": "cnn", "params": 47_582, "epochs": 2, "batch_size": 128}
        if status:
            attrs["status"] = status
        if state == TrialState.FAIL and status is None:  # what recovery.fail_and_retry records
            attrs.update(interrupted=True, reason="interrupted (Ctrl-C or SIGTERM)")
        if n:
            scores = [0.9 - rate + 0.01 * i for i in range(n)]
            attrs.update(n=n, val_scores=scores, val_accuracy=sum(scores) / n,
                         val_accuracy_std=0.01 if n > 1 else 0.0, test_accuracy=0.88, test_accuracy_std=0.0,
                         training_time_s=12.5, image_epochs=n * 2 * 600)
        study.add_trial(create_trial(state=state, value=attrs.get("val_accuracy"), user_attrs=attrs,
                                     params={"learning_rate": rate, "activation": "relu"},
                                     distributions=distributions))
    return results


def test_a_configuration_trained_twice_is_shown_as_such_not_folded_into_one_run(tmp_path, monkeypatch, capsys):
    study = optuna.create_study(study_name="twice", storage=open_storage(None, "twice", tmp_path),
                                direction="maximize")
    distributions = {"learning_rate": FloatDistribution(1e-4, 1.0, log=True)}
    for rate in (0.01, 0.01, 0.003):  # the first configuration proposed twice (a resumed, seeded sampler did)
        attrs = {"variant": "cnn", "params": 47_582, "status": "complete", "n": 1, "val_scores": [0.8],
                 "val_accuracy": 0.8 + rate, "val_accuracy_std": 0.0}
        study.add_trial(create_trial(state=TrialState.COMPLETE, value=attrs["val_accuracy"], user_attrs=attrs,
                                     params={"learning_rate": rate}, distributions=distributions))
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["leaderboard", "twice", "--results-dir", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert "note: 1 row(s) hold several complete trials of the same configuration (n_complete)" in err
    table = terminal_table(out)
    assert table.set_index("learning_rate").loc["0.01", "n_complete"] == "2", "the row says it holds two trials"


def test_status_column_says_what_became_of_each_configuration(outcomes_dir):
    board = leaderboard(load_existing_study("outcomes", None, outcomes_dir))
    by_rate = {rate: status for rate, status in zip(board["hp_learning_rate"], board["status"], strict=True)}
    assert by_rate == {rate: name if name != "single" else "complete" for name, (_, _, rate, _) in OUTCOMES.items()}
    assert list(board.columns[:3]) == ["rank", "status", "variant"]


def test_csv_counts_are_integers_and_a_single_run_has_no_spread(outcomes_dir, tmp_path, capsys):
    path = tmp_path / "board.csv"
    assert main(["leaderboard", "outcomes", "--results-dir", str(outcomes_dir), "--csv", str(path)]) == 0
    capsys.readouterr()
    with path.open(newline="") as fh:
        rows = {row["status"] if row["n"] != "1" else "single": row for row in csv.DictReader(fh)}
    assert [rows["complete"][c] for c in ("rank", "n", "val_accuracy_std")] == ["1", "3", "0.01"]
    assert [rows["single"][c] for c in ("rank", "n", "val_accuracy_std")] == ["2", "1", ""]
    assert rows["single"]["test_accuracy_std"] == "", "one run has no spread, which is not a spread of 0"
    assert rows["pruned"]["rank"] == "" and rows["pruned"]["n"] == ""
    assert rows["pruned"]["params"] == "47582" and rows["pruned"]["trial"] == "2"


@pytest.mark.parametrize("columns", ["80", "120"])
def test_terminal_shows_status_and_the_varying_hyperparameters(outcomes_dir, columns, monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", columns)
    assert main(["leaderboard", "outcomes", "--results-dir", str(outcomes_dir)]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= int(columns)
    table = terminal_table(out)
    assert {"rank", "status", "variant", "learning_rate", "val_accuracy_mean", "params"} <= set(table.columns), out
    assert "activation" not in table.columns, "a hyperparameter with one value says nothing about the rows"
    assert sorted(table["status"]) == sorted(["complete", *OUTCOMES.keys() - {"single"}])
    assert table.loc[table["status"] == "over_budget", "learning_rate"].tolist() == ["0.1"]


def test_variants_leaderboard_gives_seed003_table_with_spread(variants_study):
    board = leaderboard(variants_study, by="variant")
    assert sorted(board["variant"]) == ["1A", "1B", "2", "3", "4"]
    assert list(board["rank"]) == [1, 2, 3, 4, 5]
    assert (board["n"] == 3).all()
    assert board["val_accuracy_mean"].is_monotonic_decreasing
    assert (board["val_accuracy_std"] >= 0).all() and (board["val_accuracy_std"] > 0).any()
    assert board["test_accuracy_mean"].between(0, 1).all() and board["test_loss"].notna().all()
    assert (board["train_time_mean_s"] > 0).all()
    assert dict(zip(board["variant"], board["params"], strict=True))["1A"] == 1_633_274
    assert math.isnan(board.at[0, "p_value"]) and board["p_value"][1:].between(0, 1).all()
    assert (board["p_test"][1:] == PAIRED_T).all(), "3 seeds on one split: paired by seed"


def test_leaderboard_cli_and_csv_round_trip(variants_study, results, tmp_path, capsys):
    csv = tmp_path / "board.csv"
    code = main(["leaderboard", "variants", "--by", "variant", "--results-dir", str(results), "--csv", str(csv)])
    assert code == 0
    captured = capsys.readouterr()
    shown = terminal_table(captured.out)
    assert "val_accuracy_mean" in shown.columns and "1B" in set(shown["variant"])
    written = pd.read_csv(csv)
    assert list(written.columns) == [c for c in COLUMNS if c in written.columns]
    board = leaderboard(variants_study, by="variant")
    pd.testing.assert_frame_equal(written, board, check_dtype=False)
    # one configuration per variant, so the rows' image-epochs are the study's whole compute
    assert f"compute: {board['image_epochs'].sum():,} image-epochs (" in captured.err
    assert main(["leaderboard", "variants", "--results-dir", str(results), "--markdown", "--top", "2"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[1].startswith("|--") and len(lines) == 4


def test_leaderboard_counts_every_status(quick_study):
    board = leaderboard(quick_study)
    total = board[["n_complete", "n_pruned", "n_skipped", "n_failed"]].to_numpy().sum()
    assert total == len(quick_study.trials)
    ranked = board[board["rank"].notna()]
    assert (ranked["n_complete"] > 0).all()
    assert {"hp_filters_1", "hp_activation", "hp_learning_rate"} <= set(board.columns)


def test_unknown_study_and_metric_are_one_line_errors(results, capsys):
    assert main(["leaderboard", "nope", "--results-dir", str(results)]) == 2
    assert "no study 'nope'" in capsys.readouterr().err


@pytest.mark.smoke
def test_best_then_train_from_reproduces_the_trial(quick_study, results, tmp_path, data_dir):
    spec_path = tmp_path / "best.json"
    assert main(["best", "quickstart", "--results-dir", str(results), "-o", str(spec_path)]) == 0
    spec = load_best(spec_path)
    trial = quick_study.trials[spec.source["trial"]]
    assert trial.value == max(t.value for t in quick_study.trials if t.value is not None)
    assert spec.params == trial.user_attrs["params"] and spec.seed == trial.user_attrs["seeds"][0]
    assert set(spec.hparams) >= {"blocks", "filters_1", "filters_2", "kernel", "optimizer", "learning_rate"}
    assert not {"filters_3", "filters_4", "warmup"} & set(spec.hparams), "a 2-block, constant-rate net uses none"

    result = train(train_config(spec), data_dir=data_dir, verbose=False)
    rebuilt = build_model(spec.variant, spec.hparams)
    core = result.model.layers[-1]  # the trained model is the network behind its input normalisation
    assert core.count_params() == rebuilt.count_params() == spec.params
    assert _architecture(core) == _architecture(rebuilt)
    assert result.metrics["val"]["accuracy"] == pytest.approx(trial.user_attrs["val_scores"][0], abs=1e-6)
    assert result.metrics["test"]["accuracy"] == pytest.approx(trial.user_attrs["test_accuracy"], abs=1e-6)


def test_choosing_by_a_test_metric_is_refused_unless_the_leak_is_named(quick_study, results, tmp_path, capsys):
    path = tmp_path / "best.json"
    args = ["best", "quickstart", "--results-dir", str(results), "--metric", "test_accuracy", "-o", str(path)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "choose the model on the test set" in err and "--allow-test-set-leak" in err
    assert not path.exists()
    assert main([*args, "--allow-test-set-leak"]) == 0
    assert json.loads(path.read_text())["source"]["chosen_on_test_set"] is True
    # sorting a leaderboard by it, for display, chooses nothing and stays allowed
    assert main(["leaderboard", "quickstart", "--results-dir", str(results), "--metric", "test_accuracy"]) == 0


def test_train_from_cli_and_full_train(quick_study, results, tmp_path, data_dir, capsys):
    spec = best_spec(load_existing_study("quickstart", None, results))
    assert spec.data.subset == 800, "the search trained on a subset"
    final = train_config(spec, full_train=True).data  # the final run a search is for: every image
    assert final.subset is None and final.test_subset is None and final.seed == spec.split_seed
    assert train_config(spec).data.subset == 800, "without --full-train: the trial as it ran"
    path = write_best(spec, tmp_path / "best.json")
    out = tmp_path / "final"
    assert main(["train", "--from", str(path), "--full-train", "--subset", "1200", "--quiet", "--data-dir",
                 str(data_dir), "--out", str(out)]) == 0
    assert "note: this run fits on train + validation together (no validation split), trains on a stratified " \
           "subset of 1,200 training images where the trial used a stratified subset of 800 training images, is " \
           "scored on every test image where the trial used a stratified subset of 1,000 test images" \
           in capsys.readouterr().err
    metrics = json.loads((out / "metrics.json").read_text())
    assert spec.split_seed == metrics["split_seed"] == metrics["data"]["seed"] == 0, "the search's split, recorded"
    assert metrics["full_train"] is True and metrics["val"] is None
    assert metrics["data"]["n_train"] == 1200 and metrics["data"]["n_val"] == 0
    assert {k: metrics["hparams"][k] for k in spec.hparams} == spec.hparams


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["hparams"].update(filters_1=64), "params: the spec says"),
        (lambda d: d["hparams"].update(activation="swish"), "allowed: one of relu"),
        (lambda d: d["hparams"].pop("kernel"), "hparams: missing kernel"),
        (lambda d: d.update(epochs=0), "epochs: Input should be greater than or equal to 1"),
        (lambda d: d.update(surprise=1), "surprise: Extra inputs are not permitted"),
    ],
)
def test_hand_edited_spec_is_refused(quick_study, results, tmp_path, edit, message):
    data = best_spec(load_existing_study("quickstart", None, results)).model_dump(mode="json")
    edit(data)
    path = tmp_path / "best.json"
    path.write_text(json.dumps(data))
    assert main(["train", "--from", str(path)]) == 2


def _architecture(model) -> list:
    config = json.loads(model.to_json())["config"]
    return [(layer["class_name"], {k: v for k, v in layer["config"].items() if k != "name"})
            for layer in config["layers"]]


def test_corrected_resampled_t_test_matches_nadeau_bengio_and_is_more_conservative():
    a = [0.861, 0.855, 0.866, 0.859, 0.863]
    b = [0.852, 0.851, 0.860, 0.850, 0.858]
    d = [x - y for x, y in zip(a, b, strict=True)]
    mean = sum(d) / 5
    var = sum((x - mean) ** 2 for x in d) / 4
    t = mean / math.sqrt((1 / 5 + 1 / 4) * var)  # 5 folds: each validates on 1/5, trains on 4/5
    from scipy import stats

    expected = 2 * stats.t.sf(abs(t), df=4)
    assert corrected_resampled_t(a, b, n_train=4000, n_val=1000) == pytest.approx(expected)
    assert corrected_resampled_t(a, b, 4000, 1000) > paired_t(a, b), "the naive test over folds is anti-conservative"
    assert corrected_resampled_t(a, a, 4000, 1000) == 1.0


def test_a_kfold_study_names_the_corrected_test(tmp_path, data_dir):
    from search.execution import run_study
    from search.spaces import ParamCounter, validate_space_dict
    from search.storages import open_storage

    space = validate_space_dict({"study": "kf", "variant": "cnn", "engine": "grid", "epochs": 1, "batch_size": 128,
                                 "fixed": {"blocks": 1, "dense_units": 16}, "search": {"filters_1": [4, 8]},
                                 "validation": {"method": "kfold", "folds": 3, "evaluate_test": False},
                                 "data": {"subset": 600}})
    from search.data import load_dataset

    study = run_study(space, open_storage(None, "kf", tmp_path), load_dataset(space.data_options(), data_dir),
                      ParamCounter())
    board = leaderboard(study)
    assert board.at[1, "p_test"] == CORRECTED_T and 0 <= board.at[1, "p_value"] <= 1
    assert (board["image_epochs"] == 3 * 400).all() and (board["total_params"] >= board["params"]).all()
