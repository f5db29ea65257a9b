"""search.data on the real Fashion-MNIST: verification, decoding, caching, splits, no leakage."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import search.data.fetch as fetch
from search.data import (
    CLASS_NAMES,
    FILES,
    MIRROR,
    DataOptions,
    cache_dir,
    clear_memo,
    file_md5,
    fit_normalization,
    keras_cache_dir,
    load_dataset,
    load_raw,
    locate,
    prepare,
    read_idx,
    stratified_indices,
)
from search.errors import ConfigError, DataError

TRAIN_LABELS = "train-labels-idx1-ubyte.gz"
TEST_LABELS = "t10k-labels-idx1-ubyte.gz"


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path, data_dir):
    """Every test gets its own decoded cache and Keras home, and no $CNN_SEARCH_DATA."""
    monkeypatch.setenv("CNN_SEARCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.delenv("CNN_SEARCH_DATA", raising=False)
    clear_memo()
    yield
    clear_memo()


@pytest.fixture(scope="module")
def cached(tmp_path_factory, data_dir):
    """(raw data, cache root) decoded once for the module into its own cache."""
    root = tmp_path_factory.mktemp("module-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CNN_SEARCH_CACHE", str(root))
        clear_memo()
        start = time.perf_counter()
        raw = load_raw(data_dir)
        print(f"\nfirst load (verify + decode + write cache): {time.perf_counter() - start:.3f} s")
        clear_memo()
    return raw, root


@pytest.fixture(scope="module")
def raw(cached):
    return cached[0]


def mirror_dir(src: Path, dst: Path, *, skip: tuple[str, ...] = ()) -> Path:
    """A directory of symlinks to the real files (cheap 'copies' of the dataset)."""
    dst.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        if name not in skip:
            (dst / name).symlink_to(src / name)
    return dst


def damaged_copy(data_dir: Path, dst: Path, name: str, damage: str) -> Path:
    mirror_dir(data_dir, dst, skip=(name,))
    data = bytearray((data_dir / name).read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    else:
        data[len(data) // 2] ^= 0xFF
    (dst / name).write_bytes(bytes(data))
    return dst


def all_entries(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def npy_files(root: Path) -> list[Path]:
    return list(root.rglob("*.npy")) if root.exists() else []


# --- files: verification and decoding --------------------------------------------------------------------


def test_hard_coded_md5s_match_md5sums(data_dir):
    listed = dict(reversed(line.split()) for line in (data_dir / "MD5SUMS").read_text().splitlines() if line)
    assert listed == FILES
    assert MIRROR == "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"


def test_real_files_verify_and_decode(raw, data_dir):
    assert locate(data_dir) == data_dir
    assert all(file_md5(data_dir / name) == md5 for name, md5 in FILES.items())
    assert raw.source == data_dir
    assert (raw.x_train.shape, raw.y_train.shape, raw.x_test.shape, raw.y_test.shape) == (
        (60000, 28, 28), (60000,), (10000, 28, 28), (10000,),
    )  # fmt: skip
    assert {a.dtype for a in (raw.x_train, raw.y_train, raw.x_test, raw.y_test)} == {np.dtype(np.uint8)}
    assert np.bincount(raw.y_train).tolist() == [6000] * 10
    assert np.bincount(raw.y_test).tolist() == [1000] * 10
    assert raw.x_train.max() == 255 and raw.x_train.min() == 0
    assert not raw.x_train.flags.writeable  # shared memoised copy: nobody may modify it
    assert len(CLASS_NAMES) == 10 and CLASS_NAMES[9] == "Ankle boot"


def test_truncated_file_names_it_and_writes_no_cache(tmp_path, data_dir):
    broken = damaged_copy(data_dir, tmp_path / "fm", TRAIN_LABELS, "truncate")
    with pytest.raises(DataError, match="md5 mismatch") as err:
        load_raw(broken)
    assert str(broken / TRAIN_LABELS) in str(err.value)
    assert "\n" not in str(err.value)
    assert npy_files(tmp_path / "cache") == []


def test_corrupted_byte_is_an_md5_error(tmp_path, data_dir):
    broken = damaged_copy(data_dir, tmp_path / "fm", "t10k-images-idx3-ubyte.gz", "flip")
    with pytest.raises(DataError) as err:
        locate(broken)
    msg = str(err.value)
    assert msg.startswith(str(broken / "t10k-images-idx3-ubyte.gz"))
    assert f"expected {FILES['t10k-images-idx3-ubyte.gz']}" in msg and "delete it and download it again" in msg


def test_complete_idx_file_that_is_not_the_official_one_is_not_called_corrupted(tmp_path, data_dir):
    mine = mirror_dir(data_dir, tmp_path / "fm", skip=(TEST_LABELS,))
    labels = bytearray(gzip.decompress((data_dir / TEST_LABELS).read_bytes()))
    labels[8:] = bytes((b + 1) % 10 for b in labels[8:])  # the user's own labels: a valid IDX file
    (mine / TEST_LABELS).write_bytes(gzip.compress(bytes(labels)))
    with pytest.raises(DataError) as err:
        load_raw(mine)
    msg = str(err.value)
    assert msg.startswith(f"{mine / TEST_LABELS}: a complete IDX file but not the official Fashion-MNIST {TEST_LABELS}")
    assert file_md5(mine / TEST_LABELS) in msg and FILES[TEST_LABELS] in msg
    assert 'source = "npz" or "folder" (or --data)' in msg
    assert "download it again" not in msg and "\n" not in msg


def test_read_idx_rejects_truncated_and_garbled_files(tmp_path, data_dir):
    truncated = damaged_copy(data_dir, tmp_path / "fm", TEST_LABELS, "truncate") / TEST_LABELS
    with pytest.raises(DataError, match=TEST_LABELS):
        read_idx(truncated)
    labels = read_idx(data_dir / TEST_LABELS, (10000,))
    assert labels.dtype == np.uint8 and labels.shape == (10000,)
    with pytest.raises(DataError, match=r"shape \(10000,\), expected \(60000,\)"):
        read_idx(data_dir / TEST_LABELS, (60000,))
    cases = {
        "magic.gz": b"\x01\x00\x08\x01" + (3).to_bytes(4, "big") + b"abc",
        "type.gz": b"\x00\x00\x0d\x01" + (3).to_bytes(4, "big") + b"abc",
        "short.gz": b"\x00\x00\x08\x01" + (5).to_bytes(4, "big") + b"abc",
        "header.gz": b"\x00\x00\x08\x03" + (5).to_bytes(4, "big"),
    }
    for name, payload in cases.items():
        (tmp_path / name).write_bytes(gzip.compress(payload))
        with pytest.raises(DataError, match=name):
            read_idx(tmp_path / name)
    (tmp_path / "plain.gz").write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match="plain.gz"):
        read_idx(tmp_path / "plain.gz")


@pytest.mark.parametrize("via_env", [False, True])
def test_missing_file_in_user_dir_is_named_and_not_downloaded(tmp_path, data_dir, monkeypatch, via_env):
    partial = mirror_dir(data_dir, tmp_path / "fm", skip=(TEST_LABELS,))
    monkeypatch.setattr(fetch, "MIRROR", data_dir.as_uri() + "/")  # a download would succeed: must not happen
    if via_env:
        monkeypatch.setenv("CNN_SEARCH_DATA", str(partial))
    with pytest.raises(DataError, match="file not found") as err:
        locate(None if via_env else partial)
    assert str(partial / TEST_LABELS) in str(err.value)
    assert not (partial / TEST_LABELS).exists()
    with pytest.raises(DataError, match="no such directory"):
        locate(tmp_path / "nowhere")


# --- download into the Keras cache -----------------------------------------------------------------------


def test_offline_download_fails_cleanly(tmp_path, monkeypatch):
    monkeypatch.setattr(fetch, "MIRROR", "http://127.0.0.1:9/")
    with pytest.raises(DataError) as err:
        locate()
    msg = str(err.value)
    assert msg.startswith("cannot download train-images-idx3-ubyte.gz from http://127.0.0.1:9/train-images")
    assert "--data-dir" in msg and "CNN_SEARCH_DATA" in msg
    assert all_entries(tmp_path / "keras" / "datasets" / "fashion-mnist") == []
    with pytest.raises(DataError, match="cannot download"):
        load_raw(download=True)
    assert npy_files(tmp_path / "cache") == []


def test_download_with_wrong_md5_leaves_nothing(tmp_path, data_dir):
    bad = damaged_copy(data_dir, tmp_path / "badmirror", TRAIN_LABELS, "flip")
    target = keras_cache_dir()
    target.mkdir(parents=True)
    (target / "train-images-idx3-ubyte.gz").symlink_to(data_dir / "train-images-idx3-ubyte.gz")
    with pytest.raises(DataError, match=f"cannot download {TRAIN_LABELS} from file://.*md5 mismatch"):
        locate(mirror=bad.as_uri())
    assert all_entries(target) == ["train-images-idx3-ubyte.gz"]


def test_download_from_file_url_lands_verified_files_in_keras_cache(tmp_path, data_dir):
    target = tmp_path / "keras" / "datasets" / "fashion-mnist"
    assert keras_cache_dir() == target
    with pytest.raises(DataError, match="downloading is disabled"):
        locate(download=False)
    target.mkdir(parents=True)
    (target / TEST_LABELS).write_bytes((data_dir / TEST_LABELS).read_bytes())  # already there: kept
    before = (target / TEST_LABELS).stat().st_mtime_ns
    assert locate(mirror=data_dir.as_uri() + "/") == target
    assert all_entries(target) == sorted(FILES)  # no temp files left behind
    assert all(file_md5(target / name) == md5 for name, md5 in FILES.items())
    assert (target / TEST_LABELS).stat().st_mtime_ns == before
    assert locate(download=False) == target  # now found without downloading


def test_lookup_order_explicit_then_env_then_keras_cache(tmp_path, data_dir, monkeypatch):
    explicit = mirror_dir(data_dir, tmp_path / "explicit")
    env = mirror_dir(data_dir, tmp_path / "env")
    keras = mirror_dir(data_dir, tmp_path / "keras" / "datasets" / "fashion-mnist")
    monkeypatch.setattr(fetch, "MIRROR", "http://127.0.0.1:9/")  # any download attempt would fail
    monkeypatch.setenv("CNN_SEARCH_DATA", str(env))
    assert locate(explicit) == explicit
    assert locate(str(explicit)) == explicit
    assert locate() == env
    monkeypatch.delenv("CNN_SEARCH_DATA")
    assert locate() == keras
    monkeypatch.delenv("KERAS_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert keras_cache_dir() == tmp_path / "home" / ".keras" / "datasets" / "fashion-mnist"


# --- decoded-array cache ---------------------------------------------------------------------------------


def test_cache_dir_default_and_env(tmp_path, monkeypatch):
    in_env = cache_dir()
    assert in_env.parent == tmp_path / "cache" and len(in_env.name) == 12
    monkeypatch.delenv("CNN_SEARCH_CACHE")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "cnn-search" / "fashion-mnist" / in_env.name


def test_second_load_is_fast_identical_and_memoised(cached, data_dir, monkeypatch):
    raw, root = cached
    monkeypatch.setenv("CNN_SEARCH_CACHE", str(root))
    target = cache_dir()
    assert all_entries(target) == ["x_test.npy", "x_train.npy", "y_test.npy", "y_train.npy"]
    assert all_entries(root) == [target.name]  # the temp dir was renamed, nothing half-written left

    start = time.perf_counter()
    again = load_raw(data_dir)
    elapsed = time.perf_counter() - start
    print(f"\ncached load in-process (memo cleared): {elapsed:.3f} s")
    assert elapsed < 1.0
    assert isinstance(again.x_train, np.memmap)
    for name in ("x_train", "y_train", "x_test", "y_test"):
        assert np.array_equal(getattr(again, name), getattr(raw, name))
    assert load_raw(data_dir) is again  # memoised in-process

    script = (
        "import hashlib, json, sys, time\n"
        "t = time.perf_counter(); import search.data as d; t_import = time.perf_counter() - t\n"
        f"t = time.perf_counter(); r = d.load_raw({str(data_dir)!r}); t_load = time.perf_counter() - t\n"
        "digest = hashlib.sha256(b''.join(a.tobytes() for a in (r.x_train, r.y_train, r.x_test, r.y_test)))\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('keras', 'tensorflow', 'sklearn'))\n"
        "print(json.dumps({'import': t_import, 'load': t_load, 'sha': digest.hexdigest(), 'heavy': heavy}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "CNN_SEARCH_CACHE": str(root)}, check=True)  # fmt: skip
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"new process: import search.data {out['import']:.3f} s, cached load_raw {out['load']:.3f} s")
    assert out["load"] < 1.0
    assert out["heavy"] == []  # backend-neutral and fast: no keras, tensorflow or (eager) sklearn
    expected = hashlib.sha256(b"".join(a.tobytes() for a in (raw.x_train, raw.y_train, raw.x_test, raw.y_test)))
    assert out["sha"] == expected.hexdigest()


def test_broken_cache_is_not_trusted(cached, data_dir, tmp_path):
    raw, root = cached
    target = cache_dir()  # this test's own (empty) cache root
    target.mkdir(parents=True)
    for name in ("x_train", "x_test", "y_train"):
        (target / f"{name}.npy").symlink_to(root / target.name / f"{name}.npy")
    full = (root / target.name / "y_test.npy").read_bytes()
    (target / "y_test.npy").write_bytes(full[: len(full) // 2])  # as if a crash cut it short
    (target.parent / f".{target.name}.leftover.tmp").mkdir()  # a dead writer's temp dir: ignored
    rebuilt = load_raw(data_dir)
    assert np.array_equal(rebuilt.y_test, raw.y_test)
    assert np.load(target / "y_test.npy").shape == (10000,)


# --- splits, subsets, normalization ----------------------------------------------------------------------


def test_default_split_is_stratified_and_shaped(raw):
    ds = prepare(raw, DataOptions())
    assert ds.x_train.shape == (48000, 28, 28, 1) and ds.x_val.shape == (12000, 28, 28, 1)
    assert ds.x_test.shape == (10000, 28, 28, 1)
    assert {ds.x_train.dtype, ds.x_val.dtype, ds.x_test.dtype} == {np.dtype(np.float32)}
    assert {ds.y_train.dtype, ds.y_val.dtype, ds.y_test.dtype} == {np.dtype(np.int64)}
    assert ds.x_train.min() == 0.0 and ds.x_train.max() == 255.0, "raw pixels: the model normalises"
    assert np.array_equal(ds.x_test[..., 0], raw.x_test.astype(np.float32))
    assert np.abs(np.bincount(ds.y_train) - 4800).max() <= 1
    assert np.abs(np.bincount(ds.y_val) - 1200).max() <= 1
    assert ds.x_trainval.shape == (60000, 28, 28, 1)
    assert np.bincount(ds.y_trainval).tolist() == [6000] * 10
    assert ds.input_shape == (28, 28, 1) and ds.class_names == CLASS_NAMES


def test_subset_is_stratified_and_seeded(raw):
    a = prepare(raw, DataOptions(subset=1000, seed=1))
    b = prepare(raw, DataOptions(subset=1000, seed=1))
    c = prepare(raw, DataOptions(subset=1000, seed=2))
    assert np.bincount(a.y_trainval).tolist() == [100] * 10
    assert np.abs(np.bincount(a.y_val) - 20).max() <= 1
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.y_val, b.y_val)
    assert not np.array_equal(a.x_train, c.x_train)

    first = stratified_indices(raw.y_train, 1003, seed=5)
    assert np.array_equal(first, stratified_indices(raw.y_train, 1003, seed=5))
    assert not np.array_equal(first, stratified_indices(raw.y_train, 1003, seed=6))
    assert len(first) == len(np.unique(first)) == 1003
    assert set(np.bincount(raw.y_train[first]).tolist()) <= {100, 101}


def test_test_set_never_depends_on_training_options(raw):
    base = prepare(raw, DataOptions())
    for options in (DataOptions(subset=500, seed=3, val_fraction=0.3), DataOptions(seed=9, val_fraction=0.1)):
        other = prepare(raw, options)
        assert np.array_equal(other.x_test, base.x_test) and np.array_equal(other.y_test, base.y_test)
    small = [prepare(raw, DataOptions(subset=200, test_subset=500, seed=s)) for s in (0, 1)]
    assert np.array_equal(small[0].x_test, small[1].x_test)
    assert np.bincount(small[0].y_test).tolist() == [50] * 10


def test_standardize_statistics_come_from_the_images_given_and_nothing_else(raw):
    ds = prepare(raw, DataOptions(subset=3000, seed=4, test_subset=2000))
    norm = fit_normalization("standardize", ds.x_train)
    x = ds.x_train.astype(np.float64)
    np.testing.assert_allclose(norm.mean, x.mean(axis=0), rtol=1e-12)
    sd = x.std(axis=0)
    np.testing.assert_allclose(norm.std, np.where(sd == 0, 255.0, sd), rtol=1e-9)
    assert norm.constant_pixels == int((sd == 0).sum()) > 0, "a 2,400-image subset has always-black pixels"
    assert norm.record() == {"method": "standardize", "fitted_on": "train", "n_fit": len(ds.x_train),
                             "constant_pixels": norm.constant_pixels}  # no arrays in the metadata
    other = fit_normalization("standardize", ds.x_val)
    assert not np.allclose(other.mean, norm.mean), "statistics depend on the images they are fitted on"
    scale = fit_normalization("scale", ds.x_train)
    assert scale.mean is None and scale.record() == {"method": "scale", "fitted_on": "train", "n_fit": 2400}


def test_num_classes_keeps_only_the_first_labels(raw):
    ds = prepare(raw, DataOptions(num_classes=5))
    assert set(np.unique(ds.y_train)) == set(np.unique(ds.y_val)) == set(np.unique(ds.y_test)) == set(range(5))
    assert len(ds.y_trainval) == 30000 and len(ds.y_test) == 5000
    assert ds.class_names == CLASS_NAMES[:5] and ds.num_classes == 5


def test_load_dataset_is_prepare_of_load_raw(raw, data_dir):
    ds = load_dataset(DataOptions(subset=200, test_subset=100), data_dir=data_dir)
    assert np.array_equal(ds.x_train, prepare(raw, DataOptions(subset=200, test_subset=100)).x_train)
    assert load_dataset(data_dir=data_dir).options == DataOptions()


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"subset": 99}, "subset"),
        ({"subset": 0}, "subset"),
        ({"subset": 500.0}, "subset"),
        ({"subset": True}, "subset"),
        ({"subset": 40, "num_classes": 5}, "subset"),
        ({"test_subset": 9}, "test_subset"),
        ({"normalize": "minmax"}, "normalize"),
        ({"val_fraction": 0}, "val_fraction"),
        ({"val_fraction": 1.0}, "val_fraction"),
        ({"val_fraction": "0.2"}, "val_fraction"),
        ({"num_classes": 1}, "num_classes"),
        ({"num_classes": 11}, "num_classes"),
        ({"seed": -1}, "seed"),
        ({"seed": 1.5}, "seed"),
    ],
)
def test_bad_options_are_config_errors(kwargs, fragment):
    with pytest.raises(ConfigError, match=fragment) as err:
        DataOptions(**kwargs)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"subset": 60001}, "at most 60000"),
        ({"subset": 12001, "num_classes": 2}, "at most 12000"),
        ({"test_subset": 10001}, "at most 10000"),
        ({"subset": 100, "val_fraction": 0.05}, "val_fraction"),
        ({"subset": 100, "val_fraction": 0.95}, "val_fraction"),
    ],
)
def test_options_too_large_for_the_data_are_config_errors(raw, kwargs, fragment):
    with pytest.raises(ConfigError, match=fragment):
        prepare(raw, DataOptions(**kwargs))
