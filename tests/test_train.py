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


@pytest.mark.smoke
def test_train_writes_every_artifact(grid50k_run):
    for name in ARTIFACTS:
        path = grid50k_run / name
        assert path.is_file() and path.stat().st_size > 0, name
    assert not [p for p in grid50k_run.iterdir() if p.name.startswith(".")]  # no temp files left


def test_metrics_record_the_run(grid50k_run):
    m = json.loads((grid50k_run / "metrics.json").read_text())
    assert m["variant"] == "grid50k" and m["params"] == 47_582
    assert m["hparams"] == {"activation": "relu", "dropout_rate": 0.2, "dropout_rate_2": None, "kernel": 3,
                            "optimizer": "nadam", "learning_rate": None, "lr_schedule": "constant", "warmup": 0.1,
                            "weight_decay": None, "label_smoothing": 0.0}
    assert m["recipe"]["learning_rate"] == 0.002, "seed 001's Keras: 'Nadam' meant a rate of 0.002"
    assert m["total_params"] == 47_582 and m["kept_epoch"] == 2 and m["image_epochs"] == 2 * 2400
    assert (m["epochs"], m["batch_size"], m["seed"]) == (2, 32, 3)
    assert m["split_seed"] == m["data"]["seed"] == 0, "--seed 3 trains differently on the same split"
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


@pytest.mark.smoke
def test_the_training_seed_keeps_the_data_split_unless_a_split_seed_is_given(data_dir):
    from search.data import load_dataset
    from search.training.trainer import resolve

    def split(**seeds):
        options = resolve(TrainConfig("cnn", {"blocks": 1}, data=DataOptions(subset=500), **seeds))[3]
        data = load_dataset(options, data_dir=data_dir)
        return options.seed, data.x_val.tobytes()

    assert split(seed=1) == split(seed=2), "another training seed, the same validation images"
    seed, images = split(seed=1, split_seed=5)
    assert seed == 5 and images != split(seed=1)[1]


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
    from search.data import fit_normalization
    from search.training.trainer import test_scores
    from search.zoo import build_model

    model = build_model("cnn", {"blocks": 1, "dense_units": 16},
                        normalization=fit_normalization("scale", tiny_data.x_train))
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
    assert bf16.model.layers[-1].layers[1].dtype_policy.name == "mixed_bfloat16"
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


def test_optimizer_names_take_the_rate_of_the_keras_the_seed_ran():
    from search.zoo import build_model

    def rate(variant, hparams):
        return float(build_model(variant, hparams).optimizer.learning_rate)

    # seed 001 compiled 'Adadelta' on TensorFlow 1.x's Keras (rate 1.0); Keras 3's default is 0.001
    assert rate("grid50k", {"optimizer": "adadelta"}) == pytest.approx(1.0)
    assert rate("grid50k", {"optimizer": "nadam"}) == pytest.approx(0.002)
    assert rate("grid50k", {"optimizer": "adadelta", "learning_rate": 0.5}) == pytest.approx(0.5)
    assert rate("cnn", {"optimizer": "adadelta"}) == pytest.approx(0.001), "not a seed's model: Keras 3's"


def test_early_stopped_run_reports_the_epoch_whose_weights_it_keeps(tiny_data):
    import keras

    from search.training import FitOptions

    class SpoilSecondValidation(keras.callbacks.Callback):
        """Zeroes the weights just before the 2nd epoch's validation: that epoch scores at chance."""

        def __init__(self):
            super().__init__()
            self.epoch = 0

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_test_begin(self, logs=None):
            if self.epoch == 1:
                self.model.set_weights([np.zeros_like(w) for w in self.model.get_weights()])

    config = TrainConfig("cnn", {"blocks": 1, "dense_units": 16}, epochs=6, batch_size=64,
                         fit=FitOptions(early_stopping_patience=1))
    run = train(config, dataset=tiny_data, verbose=False, callbacks=[SpoilSecondValidation()])
    m, history = run.metrics, run.history
    assert m["epochs_run"] == 2 and m["kept_epoch"] == 1
    assert history["val_accuracy"][1] < 0.2 < history["val_accuracy"][0]
    assert m["val"] == {"loss": history["val_loss"][0], "accuracy": history["val_accuracy"][0]}
    assert m["train"]["accuracy"] == history["accuracy"][0]
    # zeroed weights predict one class (0.1 of the test set); the restored epoch-1 weights score like epoch 1
    assert m["test"]["accuracy"] > 0.2 and abs(m["test"]["accuracy"] - m["val"]["accuracy"]) < 0.1


def test_the_saved_model_predicts_from_raw_pixels(tmp_path, data_dir):
    import keras

    from search.data import load_raw
    from search.training import write_run

    config = TrainConfig("cnn", {"blocks": 1, "filters_1": 8, "dense_units": 16}, epochs=1, batch_size=64,
                         data=DataOptions(subset=1000, normalize="standardize"))
    result = train(config, data_dir=data_dir, verbose=False)
    write_run(result, tmp_path)
    model = keras.saving.load_model(tmp_path / "model.keras")
    raw = load_raw(data_dir)  # the official test images as decoded from the IDX file: uint8, 0-255
    pixels = raw.x_test[..., None]
    predicted = np.argmax(model.predict(pixels, batch_size=1024, verbose=0), axis=1)
    assert np.array_equal(predicted, result.y_pred)
    assert np.mean(predicted == raw.y_test) == pytest.approx(result.metrics["test"]["accuracy"])
    norm = result.metrics["data"]["normalization"]
    assert (norm["method"], norm["fitted_on"], norm["n_fit"]) == ("standardize", "train", 800)
    assert norm["constant_pixels"] > 0, "800 images leave some always-black pixels: they must not blow up"


def test_a_saved_recipe_model_loads_in_a_fresh_process(tmp_path, data_dir):
    """Label smoothing and cutout are custom Keras objects, registered only when imported."""
    import subprocess
    import sys

    from search.training import write_run

    config = TrainConfig("cnn", {"blocks": 1, "filters_1": 8, "dense_units": 16, "label_smoothing": 0.1,
                                 "augment_cutout": 0.2}, epochs=1, batch_size=64, data=DataOptions(subset=1000))
    result = train(config, data_dir=data_dir, verbose=False)
    write_run(result, tmp_path)
    code = ("import sys, numpy as np, search\n"
            f"model = search.load_model({str(tmp_path / 'model.keras')!r})\n"
            "print(type(model.loss).__name__, 'RandomCutout' in model.to_json())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["SmoothedSparseCrossentropy", "True"]


def test_evaluate_test_false_leaves_no_test_figures_and_skips_the_test_pass(tiny_data, monkeypatch):
    import keras

    predicted = []
    original = keras.Model.predict
    monkeypatch.setattr(keras.Model, "predict", lambda self, x, **kw: predicted.append(len(x)) or original(
        self, x, **kw))
    config = TrainConfig("cnn", {"blocks": 1, "dense_units": 16}, epochs=1, batch_size=128, evaluate_test=False)
    run = train(config, dataset=tiny_data, verbose=False)
    assert run.metrics["test"] is None and run.metrics["test_confusion_matrix"] is None and run.y_pred is None
    assert predicted == [], "no pass over the test set"
    assert run.metrics["val"]["accuracy"] > 0.2
