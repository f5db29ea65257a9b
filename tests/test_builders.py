"""Your own model: builders named by reference, read from their signature, budget-checked, searched, handed off.

The builder files are written into ``tmp_path`` as a user would write them;
seed 001's ``create_model`` is the copy of its report's in ``spaces/examples/``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Literal

import numpy as np
import pytest

from search.errors import ConfigError
from search.execution.recovery import WORKER_ATTR
from search.zoo import Bool, Choice, DataShape, Float, Int, build_model, count_params, get_variant
from search.zoo.hparams import Text

#: Seed 001's create_model as its report prints it: the example shipped in spaces/examples/.
SEED001 = (Path(__file__).resolve().parents[1] / "spaces/examples/seed001_model.py").read_text()

SMALL = '''
from typing import Literal

import keras


def small(input_shape, num_classes, filters: int = 8, activation: Literal["relu", "elu"] = "relu",
          dense_dropout: float = 0.0, batch_norm: bool = False):
    """A small uncompiled CNN: cnn-search compiles it with the training recipe."""
    inputs = keras.Input(shape=input_shape)
    x = keras.layers.Conv2D(filters, 3, activation=activation)(inputs)
    if batch_norm:
        x = keras.layers.BatchNormalization()(x)
    x = keras.layers.MaxPooling2D(4)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dropout(dense_dropout)(x)
    return keras.Model(inputs, keras.layers.Dense(num_classes, activation="softmax")(x))


def categorical(input_shape, num_classes, units: int = 16):
    """Compiled with a categorical loss, as one-hot-label code is written."""
    model = keras.Sequential([keras.Input(shape=input_shape), keras.layers.Flatten(),
                              keras.layers.Dense(units, activation="relu"),
                              keras.layers.Dense(num_classes, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(0.003), loss="categorical_crossentropy")
    return model


def raises(width: int = 4):
    if width > 4:
        raise ValueError("width above 4 is not supported\\nsecond line")
    return small((28, 28, 1), 10, filters=width)


def fixed_shape(units: int = 8):
    return keras.Sequential([keras.Input(shape=(32, 32, 3)), keras.layers.Flatten(),
                             keras.layers.Dense(10, activation="softmax")])
'''


@pytest.fixture
def builders(tmp_path: Path) -> Path:
    (tmp_path / "seed001.py").write_text(SEED001)
    (tmp_path / "mine.py").write_text(SMALL)
    return tmp_path


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "search", *args], capture_output=True, text=True, timeout=600,
                          cwd=cwd)


# --- the signature -------------------------------------------------------------------------------


def test_hyperparameters_come_from_the_signature(builders):
    variant = get_variant(f"{builders}/mine.py:small")
    params = variant.space.params
    assert isinstance(params["filters"], Int) and params["filters"].default == 8
    assert isinstance(params["activation"], Choice) and params["activation"].values == ("relu", "elu")
    assert isinstance(params["dense_dropout"], Float) and isinstance(params["batch_norm"], Bool)
    assert "input_shape" not in params and "num_classes" not in params  # supplied from the data
    assert params["optimizer"].default == "adam"  # uncompiled: the training recipe stays searchable
    assert variant.builder is not None and len(variant.builder.sha256) == 64
    assert variant.summary.startswith("A small uncompiled CNN")
    seed001 = get_variant(f"{builders}/seed001.py:create_model").space.params
    assert isinstance(seed001["optimizer"], Text) and seed001["kernel"].default == 3  # the default's type


def test_a_relative_reference_resolves_against_the_working_directory(builders, monkeypatch):
    monkeypatch.chdir(builders)
    assert get_variant("mine.py:small").name == f"{builders.resolve()}/mine.py:small"


@pytest.mark.parametrize(("source", "message"), [
    ("def f(*layers, units=3):\n    pass\n", r"\*layers is not allowed"),
    ("def f(units):\n    pass\n", "parameter 'units' has no default"),
    ("import nonexistent_module_xyz\n", "importing .* failed: ModuleNotFoundError"),
])
def test_a_builder_that_cannot_be_read_is_one_line(tmp_path, source, message):
    (tmp_path / "bad.py").write_text(source)
    with pytest.raises(ConfigError, match=message) as err:
        get_variant(f"{tmp_path}/bad.py:f")
    assert "\n" not in str(err.value)


def test_a_missing_file_or_function_names_the_reference(builders):
    with pytest.raises(ConfigError, match="no such file"):
        get_variant(f"{builders}/absent.py:build")
    with pytest.raises(ConfigError, match="'nothing' not found"):
        get_variant(f"{builders}/mine.py:nothing")
    with pytest.raises(ConfigError, match="unknown variant 'mine'.*FILE.py:FUNCTION"):
        get_variant("mine")


def test_an_unknown_or_invalid_value_is_the_zoos_error(builders):
    ref = f"{builders}/mine.py:small"
    with pytest.raises(ConfigError, match="has no hyperparameter 'filterz'; valid: filters, activation"):
        build_model(ref, {"filterz": 3})
    with pytest.raises(ConfigError, match="'activation' = 'tanh' is not allowed; allowed: one of relu, elu"):
        build_model(ref, {"activation": "tanh"})


def test_declaring_what_changes_the_weight_count_is_on_the_hyperparameter():
    cnn = get_variant("cnn").space
    assert not cnn.changes_params("conv_dropout") and not cnn.changes_params("learning_rate")
    assert not cnn.changes_params("augment_flip") and cnn.changes_params("filters_1")


# --- building, compiling and counting ------------------------------------------------------------


@pytest.mark.jax
def test_seed001s_create_model_counts_47582_like_the_zoos_grid50k(builders):
    ref = f"{builders}/seed001.py:create_model"
    assert count_params(ref) == count_params("grid50k") == 47_582
    assert count_params(ref, {"activation": "sigmoid", "optimizer": "Adadelta", "dropout_rate": 0.4}) == 47_582


def test_input_shape_and_classes_come_from_the_data(builders):
    ref = f"{builders}/mine.py:small"
    assert build_model(ref, shape=DataShape((32, 32, 3), 100), compile=False).output_shape == (None, 100)
    assert build_model("cnn", shape=DataShape((32, 32, 3), 100), compile=False).input_shape == (None, 32, 32, 3)


def test_a_model_that_cannot_take_the_data_names_both_shapes(builders):
    with pytest.raises(ConfigError, match="input shape 32x32x3 but the data's images are 28x28x1"):
        build_model(f"{builders}/mine.py:fixed_shape", compile=False)
    with pytest.raises(ConfigError, match="input shape 28x28x1 but the data's images are 8x8x1"):
        build_model(f"{builders}/seed001.py:create_model", shape=DataShape((8, 8, 1), 10), compile=False)


@pytest.mark.jax
def test_a_compiled_builder_keeps_its_loss_behind_one_hot_labels(builders):
    from search.data import fit_normalization

    x = np.zeros((4, 28, 28, 1), np.float32)
    model = build_model(f"{builders}/mine.py:categorical", normalization=fit_normalization("scale", x))
    assert type(model.optimizer).__name__ == "Adam" and float(model.optimizer.learning_rate) == pytest.approx(0.003)
    assert type(model.loss).__name__ == "OneHotLabels"
    history = model.fit(x, np.array([0, 1, 2, 3]), epochs=1, verbose=0)  # integer labels, categorical loss
    assert "accuracy" in history.history and np.isfinite(history.history["loss"][0])


@pytest.mark.smoke
@pytest.mark.jax
def test_train_keeps_a_compiled_builders_own_recipe_and_records_it(builders, data_dir):
    from search.data import DataOptions
    from search.training import TrainConfig, train

    config = TrainConfig(f"{builders}/seed001.py:create_model", {"optimizer": "adam"}, epochs=1, batch_size=64,
                         data=DataOptions(subset=200, test_subset=100))
    metrics = train(config, data_dir=data_dir, verbose=False).metrics
    assert metrics["params"] == 47_582 and metrics["hparams"]["label_smoothing"] == 0.0
    assert metrics["recipe"]["optimizer"] == "adam" and metrics["recipe"]["learning_rate_from"] == \
        "your builder's compile"
    assert metrics["test"]["accuracy"] >= 0.0 and metrics["builder"]["sha256"]


def test_a_compiled_builder_refuses_recipe_settings_it_would_ignore(builders):
    with pytest.raises(ConfigError, match="compiles its own model, so 'learning_rate' would have no effect"):
        build_model(f"{builders}/mine.py:categorical", {"learning_rate": 0.01})


def test_a_builder_that_raises_is_that_configurations_one_line_failure(builders):
    ref = f"{builders}/mine.py:raises"
    assert count_params(ref, {"width": 4}) > 0
    with pytest.raises(ConfigError, match=r"raised ValueError: width above 4 is not supported$"):
        count_params(ref, {"width": 5})


@pytest.mark.jax
def test_a_python_callable_is_registered_in_process(data_dir):
    from search.data import DataOptions
    from search.training import TrainConfig, train

    def tiny(input_shape, num_classes, units: int = 8, kind: Literal["a", "b"] = "a"):
        import keras

        return keras.Sequential([keras.Input(shape=input_shape), keras.layers.Flatten(),
                                 keras.layers.Dense(units, activation="relu"),
                                 keras.layers.Dense(num_classes, activation="softmax")])

    config = TrainConfig(tiny, {"units": 4}, epochs=1, batch_size=64,
                         data=DataOptions(subset=300, test_subset=100))
    assert config.variant.endswith(":test_a_python_callable_is_registered_in_process.<locals>.tiny")
    result = train(config, data_dir=data_dir, verbose=False)
    assert result.metrics["hparams"]["units"] == 4 and result.metrics["recipe"]["optimizer"] == "adam"
    assert result.metrics["params"] == 784 * 4 + 4 + 4 * 10 + 10
    assert result.metrics["builder"]["reference"] == config.variant


# --- searching -----------------------------------------------------------------------------------


def _space(tmp: Path, name: str, body: str) -> Path:
    path = tmp / f"{name}.toml"
    path.write_text(textwrap.dedent(body))
    return path


@pytest.mark.smoke
def test_seed001s_grid_runs_through_gridsearchcv_with_every_point_counted_first(builders, data_dir):
    space = _space(builders, "grid", """
        study = "own-grid"
        variant = "seed001.py:create_model"
        engine = "grid"
        max_params = 50000
        epochs = 1
        [search]
        activation = ["relu", "sigmoid"]
        optimizer = ["Adadelta"]
        [validation]
        folds = 2
        [data]
        normalize = "standardize"
        subset = 200
        test_subset = 100
    """)
    done = cli("run", str(space), "--data-dir", str(data_dir), "--results-dir", str(builders / "results"),
               cwd=Path("/"))  # the reference is relative to the space file, not to where the command runs
    assert done.returncode == 0, done.stderr
    assert "compiles Adadelta at Keras 3's default rate 0.001" in done.stderr
    assert done.stderr.count("compiles Adadelta") == 1 and "Traceback" not in done.stderr
    assert "2-fold cross-validation of 200 images: each fold trains on about 100 and validates on 100" in done.stderr
    from search.storages import load_existing_study

    study = load_existing_study("own-grid", None, builders / "results")
    assert [t.user_attrs["params"] for t in study.trials] == [47_582, 47_582]
    assert {t.user_attrs["engine"] for t in study.trials} == {"grid"}
    ref = f"{builders.resolve()}/seed001.py:create_model"
    assert study.user_attrs["builders"][ref]["sha256"] == get_variant(ref).builder.sha256
    board = cli("leaderboard", "own-grid", "--results-dir", str(builders / "results"))
    assert " seed001.py:create_model " in board.stdout and str(builders) not in board.stdout  # the file's name


def test_an_optuna_study_on_a_builder_records_a_raising_configuration_and_refuses_oversize(builders, data_dir):
    space = _space(builders, "optuna", """
        study = "own-optuna"
        variant = "mine.py:small"
        max_params = 20000
        epochs = 1
        [search]
        filters = [2, 200]
        [optuna]
        sampler = "grid"
        [data]
        subset = 200
        test_subset = 100
    """)
    done = cli("run", str(space), "--data-dir", str(data_dir), "--results-dir", str(builders / "results"))
    assert done.returncode == 0, done.stderr
    from search.storages import load_existing_study

    trials = {t.params["filters"]: t for t in load_existing_study("own-optuna", None, builders / "results").trials}
    conv, dense = 9 * 2 + 2, 6 * 6 * 2 * 10 + 10  # 28x28 -> 26x26 (valid 3x3) -> 6x6 (pool 4)
    assert trials[2].user_attrs["status"] == "complete" and trials[2].user_attrs["params"] == conv + dense
    over = trials[200].user_attrs
    assert over["status"] == "over_budget" and over["params"] > 20000 and not over.get("image_epochs")

    failing = _space(builders, "failing", """
        study = "own-failing"
        variant = "mine.py:raises"
        epochs = 1
        [search]
        width = [4, 5]
        [optuna]
        sampler = "grid"
        [data]
        subset = 200
        test_subset = 100
    """)
    done = cli("run", str(failing), "--data-dir", str(data_dir), "--results-dir", str(builders / "results"))
    assert "Traceback" not in done.stderr
    trials = {t.params["width"]: t for t in load_existing_study("own-failing", None, builders / "results").trials}
    assert trials[4].user_attrs["status"] == "complete"
    assert trials[5].user_attrs["status"] == "invalid"
    assert trials[5].user_attrs["reason"].endswith("raised ValueError: width above 4 is not supported")


def test_best_then_train_from_and_a_changed_builder_file_is_refused(builders, data_dir):
    space = _space(builders, "handoff", """
        study = "own-handoff"
        variant = "mine.py:small"
        epochs = 1
        [search]
        activation = ["relu", "elu"]
        [optuna]
        sampler = "grid"
        [data]
        subset = 200
        test_subset = 100
    """)
    results = builders / "results"
    assert cli("run", str(space), "--data-dir", str(data_dir), "--results-dir", str(results)).returncode == 0
    best = cli("best", "own-handoff", "--results-dir", str(results), "-o", str(builders / "best.json"))
    assert best.returncode == 0, best.stderr
    spec = json.loads((builders / "best.json").read_text())
    assert spec["variant"].endswith("mine.py:small") and len(spec["builder"]["sha256"]) == 64
    final = cli("train", "--from", str(builders / "best.json"), "--data-dir", str(data_dir),
                "--out", str(builders / "final"))
    assert final.returncode == 0, final.stderr
    metrics = json.loads((builders / "final" / "metrics.json").read_text())
    assert metrics["builder"] == spec["builder"] and metrics["params"] == spec["params"]

    (builders / "mine.py").write_text(SMALL.replace("MaxPooling2D(4)", "MaxPooling2D(2)"))
    again = cli("train", "--from", str(builders / "best.json"), "--data-dir", str(data_dir),
                "--out", str(builders / "again"))
    assert again.returncode == 2 and "its file changed since this best.json recorded it" in again.stderr
    assert "Traceback" not in again.stderr and not (builders / "again").exists()
    resumed = cli("run", str(space), "--data-dir", str(data_dir), "--results-dir", str(results), "--n-trials", "3")
    assert resumed.returncode == 2 and "its file changed since study 'own-handoff' recorded it" in resumed.stderr


def test_a_worker_process_imports_the_builder_by_reference(builders, data_dir):
    space = _space(builders, "workers", """
        study = "own-workers"
        variant = "mine.py:small"
        epochs = 1
        [search]
        filters = [4]
        [optuna]
        sampler = "grid"
        [data]
        subset = 200
        test_subset = 100
    """)
    done = cli("run", str(space), "--workers", "1", "--data-dir", str(data_dir),
               "--results-dir", str(builders / "results"), cwd=Path("/"))
    assert done.returncode == 0, done.stderr
    from search.storages import load_existing_study

    [trial] = load_existing_study("own-workers", None, builders / "results").trials
    assert trial.user_attrs["status"] == "complete" and trial.user_attrs.get(WORKER_ATTR)


def test_a_callable_cannot_go_to_worker_processes(data_dir, tmp_path):
    from search.runner import RunOptions, run_search
    from search.spaces.loader import validate_space_dict

    def tiny(input_shape, num_classes, units: int = 8):
        import keras

        return keras.Sequential([keras.Input(shape=input_shape), keras.layers.Flatten(),
                                 keras.layers.Dense(num_classes, activation="softmax")])

    space = validate_space_dict({"study": "callable", "variant": tiny, "epochs": 1, "search": {"units": [4]},
                                 "optuna": {"sampler": "grid"}, "data": {"subset": 200, "test_subset": 100}})
    with pytest.raises(ConfigError, match="exists only in this process; name it by reference"):
        run_search(space, RunOptions(workers=1, data_dir=data_dir, results_dir=tmp_path))


def test_a_comparison_names_builders_and_zoo_variants_alike_with_their_own_epochs(builders):
    from search.spaces import load_space

    space = _space(builders, "compare", """
        study = "compare"
        variants = ["mine.py:small", "cnn"]
        [per_variant]
        "mine.py:small" = { epochs = 2 }
        [optuna]
        sampler = "grid"
    """)
    loaded = load_space(space)
    mine = f"{builders.resolve()}/mine.py:small"
    assert loaded.variants == [mine, "cnn"] and loaded.training_setting(mine, "epochs") == 2
    assert [p["variant"] for p in loaded.grid_points()] == [mine, "cnn"]
