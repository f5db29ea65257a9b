"""A real short training run on a stratified subset of the real Fashion-MNIST."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from search.cli import main
from search.data import DataOptions
from search.training import ARTIFACTS, TrainConfig, train


@pytest.fixture(scope="module")
def grid50k_run(tmp_path_factory, data_dir):
    out = tmp_path_factory.mktemp("run")
    code = main(["train", "grid50k", "--epochs", "2", "--subset", "3000", "--seed", "3", "--quiet",
                 "--data-dir", str(data_dir), "--out", str(out)])
    assert code == 0
    return out


def test_train_writes_every_artifact(grid50k_run):
    for name in ARTIFACTS:
        path = grid50k_run / name
        assert path.is_file() and path.stat().st_size > 0, name
    assert not [p for p in grid50k_run.iterdir() if p.name.startswith(".")]  # no temp files left


def test_metrics_record_the_run(grid50k_run):
    m = json.loads((grid50k_run / "metrics.json").read_text())
    assert m["variant"] == "grid50k" and m["params"] == 47_582
    assert m["hparams"] == {"activation": "relu", "dropout_rate": 0.2, "kernel": 3, "optimizer": "nadam",
                            "learning_rate": None}
    assert (m["epochs"], m["batch_size"], m["seed"]) == (2, 32, 3)
    assert (m["data"]["n_train"], m["data"]["n_val"], m["data"]["n_test"]) == (2400, 600, 10_000)
    assert m["test"]["accuracy"] > 0.6, "far above the 0.1 of chance"
    assert 0 < m["time_per_epoch_s"] <= m["training_time_s"]
    assert {"keras", "tensorflow", "numpy", "scikit-learn", "python"} <= set(m["versions"])
    assert m["device"].startswith("tensorflow on ")


def test_history_and_reports_are_consistent(grid50k_run):
    history = pd.read_csv(grid50k_run / "history.csv")
    assert list(history["epoch"]) == [1, 2]
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "epoch_time_s"} <= set(history.columns)
    report = pd.read_csv(grid50k_run / "classification_report.csv")
    assert list(report["class"][:10]) == ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                                          "Shirt", "Sneaker", "Bag", "Ankle boot"]
    assert report["support"][:10].sum() == 10_000
    cm = pd.read_csv(grid50k_run / "confusion_matrix.csv", index_col=0)
    assert cm.shape == (10, 10) and cm.to_numpy().sum() == 10_000
    accuracy = np.trace(cm.to_numpy()) / 10_000
    m = json.loads((grid50k_run / "metrics.json").read_text())
    assert accuracy == pytest.approx(m["test"]["accuracy"], abs=1e-4)


def test_same_seed_gives_same_metrics_on_cpu(data_dir):
    config = TrainConfig("cnn", {"blocks": 1, "filters_1": 8, "dense_units": 16}, epochs=1, batch_size=64,
                         seed=11, data=DataOptions(subset=1000, test_subset=1000))
    first = train(config, data_dir=data_dir, verbose=False).metrics
    second = train(config, data_dir=data_dir, verbose=False).metrics
    for split in ("train", "val", "test"):
        assert first[split] == second[split]
    other = train(TrainConfig(**{**config.__dict__, "seed": 12}), data_dir=data_dir, verbose=False).metrics
    assert other["val"] != first["val"]


def test_five_class_models_train_on_five_classes(data_dir):
    config = TrainConfig("m1", {"num_classes": 5}, epochs=1, batch_size=128,
                         data=DataOptions(subset=1000, test_subset=1000))
    result = train(config, data_dir=data_dir, verbose=False)
    assert set(np.unique(result.dataset.y_test)) == set(range(5))
    assert result.metrics["test"]["accuracy"] > 0.3


@pytest.fixture(scope="module")
def tiny_data(data_dir):
    from search.data import load_dataset

    return load_dataset(DataOptions(subset=600, test_subset=300), data_dir=data_dir)


def test_test_scores_from_predictions_equal_keras_evaluate(tiny_data):
    from search.training.trainer import test_scores
    from search.zoo import build_model

    model = build_model("cnn", {"blocks": 1, "dense_units": 16})
    model.fit(tiny_data.x_train, tiny_data.y_train, epochs=1, batch_size=64, verbose=0)
    loss, accuracy = model.evaluate(tiny_data.x_test, tiny_data.y_test, batch_size=512, verbose=0)
    ours = test_scores(tiny_data.y_test, model.predict(tiny_data.x_test, batch_size=512, verbose=0))
    assert ours == pytest.approx((loss, accuracy), rel=1e-5)


def test_early_stopping_ends_a_run_that_stopped_improving(tiny_data):
    from search.training import FitOptions

    stuck = {"blocks": 1, "dense_units": 16, "optimizer": "sgd", "learning_rate": 1e-6}
    run = train(TrainConfig("cnn", stuck, epochs=8, batch_size=128, fit=FitOptions(early_stopping_patience=1)),
                dataset=tiny_data, verbose=False)
    assert run.metrics["epochs_run"] < 8 and run.metrics["fit_options"]["early_stopping_patience"] == 1


def test_speed_settings_train_the_same_model(tiny_data):
    import keras

    from search.training import FitOptions

    config = TrainConfig("cnn", {"blocks": 1, "dense_units": 16}, epochs=2, batch_size=128)
    plain = train(config, dataset=tiny_data, verbose=False)
    batched = train(TrainConfig(**{**config.__dict__, "fit": FitOptions(steps_per_execution=4)}), dataset=tiny_data,
                    verbose=False)
    assert batched.metrics["val"]["accuracy"] == pytest.approx(plain.metrics["val"]["accuracy"], abs=0.02)
    bf16 = train(TrainConfig(**{**config.__dict__, "fit": FitOptions(precision="mixed_bfloat16")}),
                 dataset=tiny_data, verbose=False)
    assert bf16.model.layers[0].dtype_policy.name == "mixed_bfloat16"
    assert keras.config.dtype_policy().name == "float32", "the global policy is restored"
    assert bf16.metrics["fit_options"]["precision"] == "mixed_bfloat16" and bf16.metrics["test"]["accuracy"] > 0.3


def test_jit_compile_really_uses_xla_and_later_runs_are_deterministic_again(tiny_data):
    from search.training import FitOptions

    config = TrainConfig("cnn", {"blocks": 1, "dense_units": 16}, epochs=1, batch_size=128)
    xla = train(TrainConfig(**{**config.__dict__, "fit": FitOptions(jit_compile=True)}), dataset=tiny_data,
                verbose=False)
    assert xla.model.jit_compile is True and xla.metrics["deterministic_ops"] is False
    first, second = (train(config, dataset=tiny_data, verbose=False) for _ in range(2))
    assert first.metrics["deterministic_ops"] is True
    assert first.metrics["val"] == second.metrics["val"], "the same seed gives the same run again"
