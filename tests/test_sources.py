"""search.data.load_source on real images: scikit-learn's digits, Fashion-MNIST, CIFAR-shaped archives of real images.

Everything is offline: the standard sets are served from a temporary Keras
cache or a ``file://`` mirror (their checksum table patched to the files made
here), and any other URL fails the test.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import os
import pickle
import shutil
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from search.data import CLASS_NAMES, SOURCES, clear_memo, load_raw, load_source
from search.data.sources import folder, keras_sets
from search.data.sources.common import TEST_FRACTION, TEST_SEED
from search.errors import DataError

DIGIT_NAMES = tuple(f"digit-{d}" for d in range(10))
DEFAULT_MIRRORS = dict(keras_sets.MIRRORS)  # before the fixture below replaces them


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """A private cache root and Keras home, dead mirrors, and a urlopen that only opens file:// URLs."""
    monkeypatch.setenv("CNN_SEARCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    for name in keras_sets.MIRRORS:
        monkeypatch.setitem(keras_sets.MIRRORS, name, "http://127.0.0.1:9/")
    real = urllib.request.urlopen

    def offline(url, *args, **kwargs):
        if not str(url).startswith("file:"):
            raise urllib.error.URLError(f"the tests are offline ({url})")
        return real(url, *args, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    clear_memo()
    yield
    clear_memo()


# --- real images ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 8x8 digits (values 0..16) as uint8 0..255 images and int64 labels."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return np.rint(d.images * (255 / 16)).astype(np.uint8), d.target.astype(np.int64)


@pytest.fixture(scope="module")
def fashion(tmp_path_factory, data_dir) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A stratified slice of the real Fashion-MNIST: 600 training and 200 test images."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CNN_SEARCH_CACHE", str(tmp_path_factory.mktemp("fm-cache")))
        clear_memo()
        raw = load_raw(data_dir)
        clear_memo()
    train = np.concatenate([np.flatnonzero(raw.y_train == c)[:60] for c in range(10)])
    test = np.concatenate([np.flatnonzero(raw.y_test == c)[:20] for c in range(10)])
    return (np.array(raw.x_train[train]), np.array(raw.y_train[train]),
            np.array(raw.x_test[test]), np.array(raw.y_test[test]))  # fmt: skip


def write_folder(root: Path, x: np.ndarray, y: np.ndarray, *, ext: str = "png", names=DIGIT_NAMES) -> Path:
    """Each image as ``root/<class name>/<index>.<ext>``."""
    for i, (img, label) in enumerate(zip(x, y, strict=True)):
        (root / names[label]).mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(root / names[label] / f"{i:04d}.{ext}")
    return root


@pytest.fixture(scope="module")
def digits_folder(tmp_path_factory, digits) -> Path:
    return write_folder(tmp_path_factory.mktemp("digits") / "png", *digits)


def few(digits, per_class: int = 12, classes: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """The first ``per_class`` digits of each of the first ``classes`` classes (small folders for error tests)."""
    x, y = digits
    idx = np.concatenate([np.flatnonzero(y == c)[:per_class] for c in range(classes)])
    return x[idx], y[idx]


def colour(x: np.ndarray) -> np.ndarray:
    """Grayscale images as RGB with three different channels (so a channel mix-up shows)."""
    return np.stack([x, 255 - x, x // 2], axis=-1)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cache_entries(source: str) -> list[str]:
    root = Path(os.environ["CNN_SEARCH_CACHE"]) / source
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def one_line_error(excinfo) -> str:
    msg = str(excinfo.value)
    assert "\n" not in msg
    return msg


# --- the dispatcher ------------------------------------------------------------------------------------


def test_fashion_mnist_is_load_raw_with_class_names_and_info(data_dir):
    raw = load_source(data_dir=data_dir)
    assert raw is load_raw(data_dir)
    assert raw.class_names == CLASS_NAMES and raw.x_train.shape == (60000, 28, 28)
    assert raw.info["source"] == "fashion-mnist" and raw.info["path"] == str(data_dir)
    assert raw.info["input_shape"] == [28, 28, 1] and len(raw.info["content_key"]) == 64
    assert SOURCES == ("fashion-mnist", "mnist", "cifar10", "cifar100", "npz", "folder")


@pytest.mark.parametrize(
    ("args", "kwargs", "fragment"),
    [
        (("imagenet",), {}, "source 'imagenet' is not one of: fashion-mnist, mnist"),
        (("npz",), {}, "source 'npz' needs path: the .npz file"),
        (("folder",), {}, "source 'folder' needs path: the directory"),
        (("mnist", "x.npz"), {}, "path is only for the npz and folder sources; 'mnist'"),
        (("fashion-mnist", "x"), {}, "path is only for the npz and folder sources"),
        (("npz", "x.npz"), {"image_size": (8, 8)}, "image_size is only for the folder source"),
        (("cifar10",), {"color_mode": "rgb"}, "color_mode is only for the folder source"),
        (("folder", "x"), {"color_mode": "RGB"}, "color_mode must be one of: grayscale, rgb"),
        (("folder", "x"), {"image_size": (8,)}, r"image_size must be two positive integers \(height, width\)"),
        (("folder", "x"), {"image_size": (8, 0)}, "image_size must be two positive integers"),
        (("folder", "x"), {"image_size": (8.0, 8)}, "image_size must be two positive integers"),
        (("folder", "x"), {"data_dir": "/tmp"}, "data_dir is only for the standard sets"),
    ],
)
def test_arguments_a_source_does_not_take_are_refused(args, kwargs, fragment):
    with pytest.raises(DataError, match=fragment) as err:
        load_source(*args, **kwargs)
    one_line_error(err)


# --- folder --------------------------------------------------------------------------------------------


@pytest.mark.smoke  # Pillow's lowest declared version decodes it too (CI's lowest-versions job)
def test_folder_of_digits_decodes_with_a_stratified_fixed_test_split(digits_folder, digits):
    x, y = digits
    raw = load_source("folder", digits_folder)
    counts = np.bincount(y)
    n_test = np.floor(counts * TEST_FRACTION + 0.5).astype(int)
    assert raw.class_names == DIGIT_NAMES
    assert raw.x_train.shape == (len(y) - n_test.sum(), 8, 8, 1) and raw.x_test.shape == (n_test.sum(), 8, 8, 1)
    assert {raw.x_train.dtype, raw.x_test.dtype} == {np.dtype(np.uint8)}
    assert {raw.y_train.dtype, raw.y_test.dtype} == {np.dtype(np.int64)}
    assert not raw.x_train.flags.writeable and not raw.y_test.flags.writeable
    assert np.bincount(raw.y_test).tolist() == n_test.tolist()  # stratified: 20% of every class
    assert np.bincount(raw.y_train).tolist() == (counts - n_test).tolist()
    # Every image once, with its own label: the split only partitions the folder.
    together = np.concatenate([raw.x_train, raw.x_test])[..., 0]
    labels = np.concatenate([raw.y_train, raw.y_test])
    order = np.lexsort((labels, *together.reshape(len(together), -1).T))
    expected = np.lexsort((y, *x.reshape(len(x), -1).T))
    assert np.array_equal(together[order], x[expected]) and np.array_equal(labels[order], y[expected])
    assert raw.info == {
        "source": "folder", "path": str(digits_folder), "input_shape": [8, 8, 1],
        "content_key": raw.info["content_key"], "color_mode": "grayscale", "image_size": None,
        "test_split": {"fraction": 0.2, "seed": 0, "n_test": int(n_test.sum())},
    }  # fmt: skip
    assert (TEST_FRACTION, TEST_SEED) == (0.2, 0)


def test_carved_split_is_the_same_every_time_and_per_class(digits_folder, digits, tmp_path):
    first = load_source("folder", digits_folder)
    clear_memo()
    state = np.random.get_state()
    np.random.seed(1234)  # nothing global feeds the split
    try:
        again = load_source("folder", digits_folder, color_mode="grayscale")  # another cache entry: decoded afresh
    finally:
        np.random.set_state(state)
    assert again.info["content_key"] != first.info["content_key"]
    assert np.array_equal(again.x_test, first.x_test) and np.array_equal(again.y_test, first.y_test)
    # A class's test images depend only on that class's own images, not on which other classes exist.
    x, y = digits
    keep = y < 4
    fewer = load_source("folder", write_folder(tmp_path / "four", x[keep], y[keep]))
    for c in range(4):
        assert np.array_equal(fewer.x_test[fewer.y_test == c], first.x_test[first.y_test == c])


def test_second_load_is_served_from_the_memory_mapped_cache(digits_folder, monkeypatch):
    raw = load_source("folder", digits_folder)
    assert load_source("folder", digits_folder) is raw  # memoised in-process
    key = raw.info["content_key"]
    assert cache_entries("folder") == [key]  # written whole: no temp directory left
    target = Path(os.environ["CNN_SEARCH_CACHE"]) / "folder" / key
    assert sorted(p.name for p in target.iterdir()) == ["meta.json", "x_test.npy", "x_train.npy", "y_test.npy",
                                                        "y_train.npy"]

    def no_decode(*args):
        raise AssertionError("decoded again instead of reading the cache")

    monkeypatch.setattr(folder, "decode", no_decode)
    clear_memo()
    cached = load_source("folder", digits_folder)
    assert cached is not raw and isinstance(cached.x_train, np.memmap)
    assert np.array_equal(cached.x_train, raw.x_train) and np.array_equal(cached.y_test, raw.y_test)
    assert cached.class_names == raw.class_names and cached.info == raw.info


@pytest.mark.parametrize("damage", ["truncate x_train.npy", "drop meta.json", "edit meta.json"])
def test_a_broken_cache_is_decoded_again(digits, tmp_path, damage):
    root = write_folder(tmp_path / "d", *few(digits))
    raw = load_source("folder", root)
    x_train = np.array(raw.x_train)  # a copy: the damage below rewrites the file raw.x_train maps
    target = Path(os.environ["CNN_SEARCH_CACHE"]) / "folder" / raw.info["content_key"]
    if damage == "truncate x_train.npy":
        data = (target / "x_train.npy").read_bytes()
        (target / "x_train.npy").write_bytes(data[: len(data) // 2])
    elif damage == "drop meta.json":
        (target / "meta.json").unlink()
    else:
        (target / "meta.json").write_text('{"arrays": {}}')
    clear_memo()
    again = load_source("folder", root)
    assert np.array_equal(again.x_train, x_train) and again.class_names == DIGIT_NAMES[:3]
    assert json.loads((target / "meta.json").read_text())["class_names"] == list(DIGIT_NAMES[:3])


def test_a_changed_file_changes_the_content_key_and_the_arrays(digits, tmp_path):
    x, y = few(digits)
    root = write_folder(tmp_path / "d", x, y)
    before = load_source("folder", root)
    victim = root / "digit-1" / "0013.png"
    inverted = 255 - np.asarray(Image.open(victim))
    Image.fromarray(inverted).save(victim)
    clear_memo()
    after = load_source("folder", root)
    assert after.info["content_key"] != before.info["content_key"]
    assert len(cache_entries("folder")) == 2
    assert any(np.array_equal(img[..., 0], inverted) for img in np.concatenate([after.x_train, after.x_test]))
    assert load_source("folder", root, image_size=(8, 8)).info["content_key"] not in (
        before.info["content_key"], after.info["content_key"])  # fmt: skip


def test_rgb_folder_and_colour_inference(digits, tmp_path):
    x, y = few(digits)
    rgb = load_source("folder", write_folder(tmp_path / "rgb", colour(x), y))
    assert rgb.x_train.shape[1:] == (8, 8, 3) and rgb.info["color_mode"] == "rgb"
    assert rgb.info["input_shape"] == [8, 8, 3]
    everything = np.concatenate([rgb.x_train, rgb.x_test])
    assert {tuple(px) for px in colour(x).reshape(-1, 3)} == {tuple(px) for px in everything.reshape(-1, 3)}

    as_gray = load_source("folder", tmp_path / "rgb", color_mode="grayscale")
    assert as_gray.x_train.shape[1:] == (8, 8, 1) and as_gray.info["color_mode"] == "grayscale"
    gray_path = tmp_path / "gray"
    gray = load_source("folder", write_folder(gray_path, x, y), color_mode="rgb")
    assert gray.x_train.shape[1:] == (8, 8, 3)
    assert np.array_equal(gray.x_train[..., 0], gray.x_train[..., 2])

    mixed = write_folder(tmp_path / "mixed", x, y)
    Image.fromarray(colour(x[0])).save(mixed / "digit-0" / "0000.png")  # one colour image among grayscale ones
    raw = load_source("folder", mixed)
    assert raw.x_train.shape[1:] == (8, 8, 3) and raw.info["color_mode"] == "rgb"
    plain = np.concatenate([raw.x_train, raw.x_test])
    assert (plain[..., 0] == plain[..., 1]).all(axis=(1, 2)).sum() == len(plain) - 1  # the rest repeated to 3


def test_image_size_resizes_and_mixed_sizes_need_it(digits, tmp_path):
    x, y = few(digits)
    root = write_folder(tmp_path / "d", x, y)
    big = np.kron(x[5], np.ones((2, 2), dtype=np.uint8))  # 16x16
    Image.fromarray(big).save(root / "digit-0" / "0005.png")
    with pytest.raises(DataError, match=r"0000\.png is 8x8 but .*0005\.png is 16x16 .*image_size=\(H, W\)") as err:
        load_source("folder", root)
    one_line_error(err)
    raw = load_source("folder", root, image_size=(12, 10))
    assert raw.x_train.shape[1:] == (12, 10, 1) and raw.info["image_size"] == [12, 10]
    expected = np.asarray(Image.fromarray(x[1]).resize((10, 12), Image.Resampling.BILINEAR))
    assert any(np.array_equal(img[..., 0], expected) for img in np.concatenate([raw.x_train, raw.x_test]))


def test_given_train_and_test_folders_are_used_as_they_are(digits, tmp_path):
    x, y = few(digits, per_class=10)
    write_folder(tmp_path / "d" / "train", x[::2], y[::2])
    write_folder(tmp_path / "d" / "test", x[1::2], y[1::2])
    raw = load_source("folder", tmp_path / "d")
    assert raw.class_names == DIGIT_NAMES[:3] and "test_split" not in raw.info
    assert np.array_equal(raw.x_train[..., 0], x[::2]) and np.array_equal(raw.y_train, y[::2])
    assert np.array_equal(raw.x_test[..., 0], x[1::2]) and np.array_equal(raw.y_test, y[1::2])

    (tmp_path / "d" / "train" / "digit-9").mkdir()
    Image.fromarray(x[0]).save(tmp_path / "d" / "train" / "digit-9" / "a.png")
    clear_memo()
    with pytest.raises(DataError, match=r"train/ and test/ have different class subfolders \(only in train/: "
                                        r"digit-9; only in test/: none\)"):
        load_source("folder", tmp_path / "d")


def test_image_kinds_by_extension_in_any_case_others_ignored(digits, tmp_path):
    x, y = few(digits, per_class=5)
    root = tmp_path / "d"
    for i, (img, label) in enumerate(zip(x, y, strict=True)):
        cls = root / DIGIT_NAMES[label] / "nested"
        cls.mkdir(parents=True, exist_ok=True)
        ext = ["png", "PNG", "bmp", "gif", "Png"][i % 5]
        Image.fromarray(img).save(cls / f"{i:02d}.{ext}")
    Image.fromarray(colour(x[0])).save(root / "digit-0" / "photo.JPG", quality=95)
    frames = [Image.fromarray(x[1]), Image.fromarray(255 - x[1])]
    frames[0].save(root / "digit-0" / "anim.gif", save_all=True, append_images=frames[1:])
    (root / "digit-0" / "notes.txt").write_text("not an image")
    (root / "digit-0" / ".hidden.png").write_bytes(b"ignored")
    (root / ".ipynb_checkpoints").mkdir()
    (root / "README.md").write_text("ignored too")
    raw = load_source("folder", root)
    assert raw.class_names == DIGIT_NAMES[:3]
    assert len(raw.y_train) + len(raw.y_test) == len(y) + 2
    assert raw.x_train.shape[-1] == 3  # the JPEG is colour (and the GIF, a palette image, is not grayscale)
    everything = np.concatenate([raw.x_train, raw.x_test])
    assert any(np.array_equal(img[..., 0], x[1]) for img in everything)  # the GIF's first frame
    assert not any(np.array_equal(img[..., 0], 255 - x[1]) for img in everything)


def test_folder_errors_name_the_path_in_one_line(digits, tmp_path):
    x, y = few(digits, per_class=3)

    def refused(path, fragment):
        with pytest.raises(DataError, match=fragment) as err:
            load_source("folder", path)
        msg = one_line_error(err)
        clear_memo()
        return msg

    assert refused(tmp_path / "nowhere", "nowhere: no such directory; the folder source needs one subfolder")
    (tmp_path / "file.png").write_bytes(b"x")
    refused(tmp_path / "file.png", r"file\.png: not a directory")
    (tmp_path / "flat").mkdir()
    Image.fromarray(x[0]).save(tmp_path / "flat" / "a.png")
    refused(tmp_path / "flat", "flat: no class subfolders")
    write_folder(tmp_path / "one", x[y == 0], y[y == 0])
    refused(tmp_path / "one", r"one: only one class subfolder \(digit-0\); at least two")
    root = write_folder(tmp_path / "d", x, y)
    (root / "digit-7").mkdir()
    (root / "digit-7" / "notes.txt").write_text("no images")
    refused(root, r"d/digit-7: no images \(\.bmp, \.gif, \.jpeg, \.jpg, \.png\) in this class folder")
    (root / "digit-7" / "notes.txt").rename(root / "digit-7" / "broken.png")
    refused(root, r"digit-7/broken\.png: cannot decode this image \(.*\); fix or remove it")
    good = root / "digit-1" / "0003.png"
    data = good.read_bytes()
    (root / "digit-7" / "broken.png").write_bytes(data[: len(data) // 2])  # truncated PNG
    refused(root, r"digit-7/broken\.png: cannot decode this image")
    (root / "digit-7" / "broken.png").write_bytes(data)  # only one image: nothing for a carved test split
    refused(root, r"d: class 'digit-7' has only 1 image; carving a test split needs at least 2 per class "
                  r"\(or give train/ and test/ subfolders\)")
    write_folder(tmp_path / "half" / "train", x, y)
    refused(tmp_path / "half", "half: has train/ but no test/")


# --- npz -----------------------------------------------------------------------------------------------


def test_npz_in_the_keras_layout(digits, tmp_path):
    x, y = digits
    path = tmp_path / "digits.npz"
    names = np.array([f"d{i}" for i in range(10)])
    np.savez_compressed(path, x_train=x[:1500], y_train=y[:1500, None], x_test=x[1500:], y_test=y[1500:],
                        class_names=names)  # fmt: skip
    raw = load_source("npz", path)
    assert raw.x_train.shape == (1500, 8, 8, 1) and raw.x_test.shape == (297, 8, 8, 1)
    assert raw.x_train.dtype == np.uint8 and raw.y_train.dtype == np.int64
    assert np.array_equal(raw.x_train[..., 0], x[:1500]) and np.array_equal(raw.y_test, y[1500:])
    assert raw.class_names == tuple(names)
    assert raw.info == {"source": "npz", "path": str(path), "input_shape": [8, 8, 1], "content_key": sha256(path)}
    assert cache_entries("npz") == [sha256(path)]

    np.savez(path, x_train=x.astype(np.float32), y_train=y)  # overwritten: floats 0..255, no test set, no names
    clear_memo()
    carved = load_source("npz", path)
    assert carved.info["content_key"] == sha256(path) and len(cache_entries("npz")) == 2
    assert carved.class_names == tuple(str(i) for i in range(10))
    assert carved.info["test_split"] == {"fraction": 0.2, "seed": 0, "n_test": len(carved.y_test)}
    assert np.abs(np.bincount(carved.y_test) - np.bincount(y) * 0.2).max() <= 0.5
    as_folder = load_source("folder", write_folder(tmp_path / "f", x, y))
    for c in range(10):  # the same carving rule as a folder's (whose images come grouped by class)
        assert np.array_equal(carved.x_test[carved.y_test == c], as_folder.x_test[as_folder.y_test == c])


def test_npz_rgb_images_keep_their_channels(digits, tmp_path):
    x, y = few(digits)
    np.savez(tmp_path / "rgb.npz", x_train=colour(x), y_train=y.astype(np.uint8))
    raw = load_source("npz", tmp_path / "rgb.npz")
    assert raw.x_train.shape[1:] == (8, 8, 3) and raw.info["input_shape"] == [8, 8, 3]


def npz_case(tmp_path: Path, digits, name: str) -> Path:
    """An npz file with one thing wrong, as named."""
    x, y = few(digits)
    path = tmp_path / f"{name}.npz"
    good = {"x_train": x, "y_train": y}
    cases = {
        "no_x_train": {"images": x, "y_train": y},
        "no_y_train": {"x_train": x},
        "lengths": {"x_train": x, "y_train": y[:-1]},
        "above_names": {**good, "class_names": np.array(["a", "b"])},
        "negative": {"x_train": x, "y_train": y - 1},
        "one_class": {"x_train": x, "y_train": np.zeros_like(y)},
        "shapes": {**good, "x_test": colour(x), "y_test": y},
        "test_without_labels": {**good, "x_test": x},
        "unit_floats": {"x_train": x / 255.0, "y_train": y},
        "above_255": {"x_train": x.astype(np.int32) * 2, "y_train": y},
        "float_labels": {"x_train": x, "y_train": y.astype(np.float32)},
        "five_channels": {"x_train": np.repeat(x[..., None], 5, axis=-1), "y_train": y},
    }
    np.savez(path, **cases[name])
    return path


@pytest.mark.parametrize(
    ("case", "fragment"),
    [
        ("no_x_train", r"no_x_train\.npz: no 'x_train' array \(it has: images, y_train\); needs x_train, y_train"),
        ("no_y_train", r"no_y_train\.npz: no 'y_train' array"),
        ("lengths", r"lengths\.npz: x_train has 36 images but y_train has 35 labels"),
        ("above_names", r"above_names\.npz: y_train has labels 0\.\.2, expected 0\.\.1 \(2 classes, from class_"),
        ("negative", r"negative\.npz: y_train has labels -1\.\.1, expected 0\.\.1 \(2 classes, the largest label \+"),
        ("one_class", r"one_class\.npz: every y_train label is 0; at least two classes are needed"),
        ("shapes", r"shapes\.npz: x_train images are 8x8x1 but x_test images are 8x8x3"),
        ("test_without_labels", r"test_without_labels\.npz: has 'x_test' but no 'y_test'"),
        ("unit_floats", r"unit_floats\.npz: x_train values are 0\.\.1; .*multiply .* by 255"),
        ("above_255", r"above_255\.npz: x_train values are 0\.\.510; pixel values must be 0\.\.255"),
        ("float_labels", r"float_labels\.npz: y_train has shape \(36,\) and dtype float32; expected integer labels"),
        ("five_channels", r"five_channels\.npz: x_train has shape \(36, 8, 8, 5\)"),
    ],
)
def test_npz_errors_name_the_file_and_key_in_one_line(digits, tmp_path, case, fragment):
    path = npz_case(tmp_path, digits, case)
    with pytest.raises(DataError, match=fragment) as err:
        load_source("npz", path)
    assert one_line_error(err).startswith(str(path))
    assert cache_entries("npz") == []


def test_npz_that_is_missing_or_not_an_npz(digits, tmp_path):
    with pytest.raises(DataError, match=r"absent\.npz: no such file; the npz source needs an \.npz file"):
        load_source("npz", tmp_path / "absent.npz")
    (tmp_path / "text.npz").write_text("x_train,y_train\n")
    np.save(tmp_path / "array.npy", digits[0])
    for name in ("text.npz", "array.npy"):
        with pytest.raises(DataError, match=rf"{name}: not an npz file \(a zip of \.npy arrays") as err:
            load_source("npz", tmp_path / name)
        one_line_error(err)
    np.savez(tmp_path / "objects.npz", x_train=digits[0], y_train=np.array([1, "a"], dtype=object))
    with pytest.raises(DataError, match=r"objects\.npz: y_train cannot be read without pickle"):
        load_source("npz", tmp_path / "objects.npz")


# --- standard sets: MNIST ------------------------------------------------------------------------------


def mnist_npz(path: Path, fashion) -> Path:
    """The keras.datasets mnist.npz layout (uint8 (N, 28, 28) images and uint8 labels) of real images."""
    x_train, y_train, x_test, y_test = fashion
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path


def test_mnist_from_the_keras_cache(fashion, tmp_path, monkeypatch):
    path = mnist_npz(tmp_path / "keras" / "datasets" / "mnist.npz", fashion)
    monkeypatch.setitem(keras_sets.CHECKSUMS, "mnist.npz", sha256(path))
    raw = load_source("mnist", download=False)
    assert raw.x_train.shape == (600, 28, 28, 1) and raw.x_test.shape == (200, 28, 28, 1)
    assert np.array_equal(raw.x_train[..., 0], fashion[0]) and np.array_equal(raw.y_test, fashion[3])
    assert raw.y_train.dtype == np.int64 and raw.class_names == tuple("0123456789")
    assert raw.info == {"source": "mnist", "path": str(path), "input_shape": [28, 28, 1],
                        "content_key": sha256(path)}  # fmt: skip
    assert raw.source == path and cache_entries("mnist") == [sha256(path)]


def test_mnist_lookup_prefers_data_dir_and_a_wrong_file_is_named(fashion, tmp_path, monkeypatch):
    mine = mnist_npz(tmp_path / "mine" / "mnist.npz", fashion)
    keras = tmp_path / "keras" / "datasets" / "mnist.npz"
    keras.parent.mkdir(parents=True)
    keras.write_bytes(b"not the file")
    monkeypatch.setitem(keras_sets.CHECKSUMS, "mnist.npz", sha256(mine))
    assert load_source("mnist", data_dir=tmp_path / "mine").info["path"] == str(mine)
    clear_memo()
    for name in cache_entries("mnist"):  # a cache hit would not look at the file
        shutil.rmtree(Path(os.environ["CNN_SEARCH_CACHE"]) / "mnist" / name)
    with pytest.raises(DataError, match=rf"{keras}: sha256 {sha256(keras)} is not the official mnist\.npz's "
                                        rf"{sha256(mine)}; the file is truncated, corrupted or another file") as err:
        load_source("mnist")
    one_line_error(err)


def test_mnist_downloads_through_a_mirror_into_the_keras_cache(fashion, tmp_path, monkeypatch):
    served = mnist_npz(tmp_path / "mirror" / "mnist.npz", fashion)
    monkeypatch.setitem(keras_sets.CHECKSUMS, "mnist.npz", sha256(served))
    keras = tmp_path / "keras" / "datasets"
    with pytest.raises(DataError, match=rf"{keras}/mnist\.npz: file not found and downloading is disabled; "
                                        rf"put mnist\.npz in {keras} \(or in the directory passed as data_dir\)"):
        load_source("mnist", download=False)
    with pytest.raises(DataError, match=r"cannot download mnist\.npz from http://127\.0\.0\.1:9/mnist\.npz "
                                        rf"\(.*\); put mnist\.npz \(sha256 {sha256(served)}\) in {keras}") as err:
        load_source("mnist")  # offline
    one_line_error(err)
    assert not keras.exists() or list(keras.iterdir()) == []
    monkeypatch.setitem(keras_sets.MIRRORS, "mnist", served.parent.as_uri() + "/")
    raw = load_source("mnist")
    assert sorted(p.name for p in keras.iterdir()) == ["mnist.npz"]  # no temp file left
    assert sha256(keras / "mnist.npz") == sha256(served) and raw.info["path"] == str(keras / "mnist.npz")
    assert keras_sets.locate_file("mnist", download_missing=False) == keras / "mnist.npz"


def test_a_download_with_the_wrong_checksum_leaves_nothing(fashion, tmp_path, monkeypatch):
    served = mnist_npz(tmp_path / "mirror" / "mnist.npz", fashion)
    monkeypatch.setitem(keras_sets.CHECKSUMS, "mnist.npz", "0" * 64)
    with pytest.raises(DataError, match=r"cannot download mnist\.npz from file://.*sha256 mismatch"):
        keras_sets.locate_file("mnist", mirror=served.parent.as_uri())
    keras = tmp_path / "keras" / "datasets"
    assert not keras.exists() or list(keras.iterdir()) == []


def test_known_checksums_and_mirrors_are_the_ones_keras_uses():
    """Checked against the installed Keras's dataset modules, read as text (importing Keras is slow)."""
    datasets = Path(importlib.util.find_spec("keras").origin).parent / "src" / "datasets"
    for name in keras_sets.KERAS_SETS:
        text = (datasets / f"{name}.py").read_text()
        file = keras_sets.FILE_NAMES[name]
        assert keras_sets.CHECKSUMS[file] in text
        assert DEFAULT_MIRRORS[name] in text and file in text


# --- standard sets: CIFAR ------------------------------------------------------------------------------


def cifar_images(digits, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Real digits upscaled to 32x32 colour images (channels differ), and their labels."""
    x, y = digits
    return colour(np.kron(x[:n], np.ones((1, 4, 4), dtype=np.uint8))), y[:n]


def _pickled(obj) -> bytes:
    return pickle.dumps(obj, protocol=4)  # bytes keys and a uint8 array, as CIFAR's Python 2 pickles load


def cifar_archive(path: Path, digits, kind: str, *, tamper: bool = False) -> Path:
    """A CIFAR-10 or CIFAR-100 python archive in the official layout, of real (digit) images."""
    x, y = cifar_images(digits, 400)
    data = x.transpose(0, 3, 1, 2).reshape(len(x), -1)  # CIFAR stores channel planes: R, G, B
    if kind == "cifar10":
        folder_name, label_key = "cifar-10-batches-py", b"labels"
        train = [(f"data_batch_{i + 1}", idx) for i, idx in enumerate(np.array_split(np.arange(300), 5))]
        members = {"batches.meta": {b"label_names": [f"class {i}".encode() for i in range(10)], b"num_vis": 3072}}
    else:
        folder_name, label_key = "cifar-100-python", b"fine_labels"
        train = [("train", np.arange(300))]
        members = {"meta": {b"fine_label_names": [f"fine {i}".encode() for i in range(10)],
                            b"coarse_label_names": [b"coarse"]}}  # fmt: skip
    batches = [*train, ("test_batch" if kind == "cifar10" else "test", np.arange(300, 400))]
    for name, idx in batches:
        batch = {b"data": data[idx], label_key: [int(v) for v in y[idx]], b"filenames": [b"x.png"] * len(idx)}
        if kind == "cifar100":
            batch[b"coarse_labels"] = [0] * len(idx)
        members[name] = batch
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, obj in {"readme.html": None, **members}.items():
            blob = b"<html></html>" if obj is None else _pickled(obj)
            if tamper and name == "batches.meta":
                blob = pickle.dumps({b"label_names": [os.getcwd]})  # names a function: must not be unpickled
            info = tarfile.TarInfo(f"{folder_name}/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return path


@pytest.mark.parametrize("name", ["cifar-10-python.tar.gz", "cifar-10-batches-py-target_archive"])
def test_cifar10_from_the_keras_cache(digits, tmp_path, monkeypatch, name):
    path = cifar_archive(tmp_path / "keras" / "datasets" / name, digits, "cifar10")
    monkeypatch.setitem(keras_sets.CHECKSUMS, "cifar-10-python.tar.gz", sha256(path))
    raw = load_source("cifar10")
    x, y = cifar_images(digits, 400)
    assert raw.x_train.shape == (300, 32, 32, 3) and raw.x_test.shape == (100, 32, 32, 3)
    assert raw.x_train.dtype == np.uint8 and raw.y_train.dtype == np.int64
    assert np.array_equal(raw.x_train, x[:300]) and np.array_equal(raw.x_test, x[300:])  # channels last, in order
    assert np.array_equal(raw.y_train, y[:300]) and np.array_equal(raw.y_test, y[300:])
    assert raw.class_names == tuple(f"class {i}" for i in range(10))
    assert raw.info == {"source": "cifar10", "path": str(path), "input_shape": [32, 32, 3],
                        "content_key": sha256(path)}  # fmt: skip


def test_cifar100_downloads_through_a_mirror_with_fine_labels(digits, tmp_path, monkeypatch):
    served = cifar_archive(tmp_path / "mirror" / "cifar-100-python.tar.gz", digits, "cifar100")
    monkeypatch.setitem(keras_sets.CHECKSUMS, "cifar-100-python.tar.gz", sha256(served))
    monkeypatch.setitem(keras_sets.MIRRORS, "cifar100", served.parent.as_uri())
    raw = load_source("cifar100")
    x, y = cifar_images(digits, 400)
    assert np.array_equal(raw.x_test, x[300:]) and np.array_equal(raw.y_train, y[:300])
    assert raw.class_names == tuple(f"fine {i}" for i in range(10))
    assert (tmp_path / "keras" / "datasets" / "cifar-100-python.tar.gz").is_file()


def test_cifar_pickles_naming_anything_but_numpy_are_refused(digits, tmp_path, monkeypatch):
    path = cifar_archive(tmp_path / "keras" / "datasets" / "cifar-10-python.tar.gz", digits, "cifar10", tamper=True)
    monkeypatch.setitem(keras_sets.CHECKSUMS, "cifar-10-python.tar.gz", sha256(path))
    with pytest.raises(DataError, match=r"cifar-10-python\.tar\.gz: cannot read the CIFAR archive "
                                        r"\(refusing to load posix\.getcwd\)") as err:
        load_source("cifar10")
    one_line_error(err)
