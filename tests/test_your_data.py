"""Your data end to end: a folder of PNGs and a 32x32 RGB npz searched, handed off and retrained; bad data refused.

The images are real: scikit-learn's bundled digits (1,797 8x8 scans) and
Fashion-MNIST images, written here as a user would have them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from search.data import DataOptions, from_arrays, prepare
from search.errors import DataError


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "search", *args], capture_output=True, text=True, timeout=600,
                          env=env)


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return np.round(bunch.images * (255 / 16)).astype(np.uint8), bunch.target.astype(np.int64)


@pytest.fixture
def isolated(tmp_path, monkeypatch) -> dict[str, str]:
    """A private decoded-data cache, for this process and the commands it runs."""
    import os

    monkeypatch.setenv("CNN_SEARCH_CACHE", str(tmp_path / "cache"))
    return {**os.environ, "CNN_SEARCH_CACHE": str(tmp_path / "cache")}


def digit_folder(root: Path, images: np.ndarray, labels: np.ndarray) -> Path:
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        target = root / f"digit-{label}" / f"{i:04d}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image, mode="L").save(target)
    return root


def space_file(path: Path, body: str) -> Path:
    path.write_text(textwrap.dedent(body))
    return path


def test_a_folder_search_hands_off_to_a_final_run_with_its_class_names(tmp_path, digits, isolated):
    digit_folder(tmp_path / "digits", *digits)
    space = space_file(tmp_path / "folder.toml", """
        study = "digits"
        variant = "cnn"
        epochs = 2
        batch_size = 64
        [fixed]
        blocks = 1
        dense_units = 16
        learning_rate = 0.01
        [search]
        filters_1 = [4, 8]
        [optuna]
        sampler = "grid"
        [data]
        source = "folder"
        path = "digits"
    """)
    results = tmp_path / "results"
    done = cli("run", str(space), "--results-dir", str(results), env=isolated)
    assert done.returncode == 0, done.stderr
    board = cli("leaderboard", "digits", "--results-dir", str(results), env=isolated)
    assert "data: folder" in board.stderr and "8x8x1 images, 10 classes (digit-0, digit-1," in board.stderr
    assert cli("best", "digits", "--results-dir", str(results), "-o", str(tmp_path / "best.json"),
               env=isolated).returncode == 0
    final = cli("train", "--from", str(tmp_path / "best.json"), "--out", str(tmp_path / "final"), "--quiet",
                env=isolated)
    assert final.returncode == 0, final.stderr
    metrics = json.loads((tmp_path / "final/metrics.json").read_text())
    data = metrics["data"]
    assert data["source"] == "folder" and data["input_shape"] == [8, 8, 1]
    assert data["class_names"] == [f"digit-{d}" for d in range(10)]
    assert data["source_info"]["test_split"] == {"fraction": 0.2, "seed": 0, "n_test": data["n_test"]}
    assert data["n_train"] + data["n_val"] + data["n_test"] == len(digits[1])
    assert metrics["test"]["accuracy"] > 0.3  # 8x8 digits after two epochs: well above chance (0.1)
    report = (tmp_path / "final/classification_report.csv").read_text()
    assert "digit-7" in report


@pytest.mark.jax
def test_an_rgb_npz_trains_from_the_command_line_with_data(tmp_path, digits, isolated):
    images, labels = digits
    rgb = np.repeat(np.kron(images, np.ones((4, 4), np.uint8))[..., None], 3, axis=-1)  # 32x32x3
    rgb[..., 1] //= 2  # a tint: the channels differ
    path = tmp_path / "rgb.npz"
    np.savez(path, x_train=rgb[:1500], y_train=labels[:1500], x_test=rgb[1500:], y_test=labels[1500:],
             class_names=np.array([f"d{i}" for i in range(10)]))
    done = cli("train", "cnn", "--data", str(path), "--set", "blocks=2", "--set", "filters_1=4", "--set",
               "filters_2=4", "--set", "dense_units=0", "--epochs", "1", "--out", str(tmp_path / "run"), "--quiet",
               env=isolated)
    assert done.returncode == 0, done.stderr
    metrics = json.loads((tmp_path / "run/metrics.json").read_text())
    assert metrics["data"]["input_shape"] == [32, 32, 3] and metrics["data"]["source"] == "npz"
    assert metrics["params"] == (3 * 3 * 3 * 4 + 4) + (3 * 3 * 4 * 4 + 4) + (8 * 8 * 4 * 10 + 10)
    assert metrics["data"]["n_test"] == len(labels) - 1500


@pytest.mark.parametrize(("make", "message"), [
    (lambda root, d: root / "absent", "no such"),
    (lambda root, d: digit_folder(root / "one", d[0][:20], np.zeros(20, np.int64)), "at least two classes|one class"),
    (lambda root, d: (digit_folder(root / "empty", *d), (root / "empty/digit-x").mkdir())[0], "digit-x"),
])
def test_bad_data_is_one_line_exit_2_and_nothing_written(tmp_path, digits, isolated, make, message):
    source = make(tmp_path, digits)
    out = tmp_path / "run"
    done = cli("train", "cnn", "--data", f"folder:{source}", "--epochs", "1", "--out", str(out), env=isolated)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert __import__("re").search(message, done.stderr), done.stderr
    assert not out.exists()


def test_a_space_whose_model_cannot_take_the_data_names_both_shapes(tmp_path, digits, isolated):
    digit_folder(tmp_path / "digits", *digits)
    space = space_file(tmp_path / "bad.toml", """
        study = "bad"
        variant = "grid50k"
        max_params = 50000
        [search]
        kernel = [3]
        [optuna]
        sampler = "grid"
        [data]
        source = "folder"
        path = "digits"
    """)
    done = cli("run", str(space), "--results-dir", str(tmp_path / "results"), env=isolated)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "max_params: no configuration of the space fits" in done.stderr
    assert "grid50k" in done.stderr and "1x1 feature map leaves nothing" in done.stderr


@pytest.mark.jax
def test_in_memory_arrays_are_checked_like_a_file_and_train(digits, data_dir):
    from search.training import TrainConfig, train

    images, labels = digits
    raw = from_arrays(images, labels, class_names=[f"d{i}" for i in range(10)])
    assert raw.info["source"] == "arrays" and raw.info["test_split"]["seed"] == 0
    dataset = prepare(raw, DataOptions())
    result = train(TrainConfig("cnn", {"blocks": 1, "filters_1": 4, "dense_units": 0}, epochs=1, batch_size=64),
                   dataset=dataset, verbose=False)
    assert result.metrics["data"]["source"] == "arrays" and result.metrics["data"]["input_shape"] == [8, 8, 1]
    with pytest.raises(DataError, match=r"y_train has labels 0\.\.9, expected 0\.\.1"):
        from_arrays(images, labels, class_names=["a", "b"])


def test_the_example_data_and_spaces_are_what_the_guide_says(tmp_path, data_dir, isolated):
    from search.data import load_source
    from search.spaces import load_space

    root = Path(__file__).resolve().parents[1]
    made = subprocess.run([sys.executable, str(root / "scripts/make-example-data.py"), "--out", str(tmp_path),
                           "--data-dir", str(data_dir)], capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr
    folder = load_source("folder", tmp_path / "fashion-folder")
    assert folder.x_train.shape == (5000, 28, 28, 1) and len(folder.y_test) == 1000
    assert "T-shirt_top" in folder.class_names and "test_split" not in folder.info  # its own test/ folder
    rgb = load_source("npz", tmp_path / "rgb32.npz")
    assert rgb.x_train.shape == (5000, 32, 32, 3) and rgb.class_names[0] == "T-shirt/top"

    grid = load_space(root / "spaces/examples/own-grid.toml")  # every point built and counted: all fit
    assert grid.engine == "grid" and len(grid.grid_points()) == 24
    for name, source in (("folder", "folder"), ("npz-rgb", "npz")):
        space = load_space(root / f"spaces/examples/{name}.toml", check_budget=False)
        assert space.data.source == source and Path(space.data.path).is_absolute()
        assert Path(space.data.path).parent == (root / ".data/examples").resolve()
