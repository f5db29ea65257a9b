"""Every Keras backend: one train, one Optuna study, one grid point, one worker, and GPU memory caps.

These tests are backend-neutral: they run on whatever ``KERAS_BACKEND``
names. CI runs the ``jax``-marked ones a second time in a virtual
environment that has JAX and no TensorFlow (``.ci/run``), with
``CNN_SEARCH_NO_TENSORFLOW=1`` so that the first test proves TensorFlow
really is absent there: a TensorFlow-only call that creeps back in fails
that job.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from search.cli import main
from search.execution.recovery import WORKER_ATTR
from search.runtime import configured_backend
from search.storages import open_storage
from search.workers.devices import Slot, device_env, placement_env
from search.workers.memory import FRACTION_ENV, apply_memory_cap, memory_fraction
from search.workers.pool import LocalPool, PoolConfig

pytestmark = pytest.mark.jax

SPACE = """
study = "{study}"
variant = "cnn"
engine = "{engine}"
seed = 0
epochs = 1
batch_size = 64

[fixed]
blocks = 1
dense_units = 16

[search]
filters_1 = {filters}

{extra}

[data]
subset = 500
test_subset = 200
"""


def write_space(tmp_path: Path, study: str, engine: str, filters: list[int], extra: str) -> Path:
    path = tmp_path / f"{study}.toml"
    path.write_text(SPACE.format(study=study, engine=engine, filters=filters, extra=extra))
    return path


def load(study: str, results: Path) -> optuna.Study:
    return optuna.load_study(study_name=study, storage=open_storage(None, study, results))


def assert_recorded_backend(record: dict) -> None:
    backend = configured_backend()
    assert record["backend"] == backend and record["device"].startswith(f"{backend} on "), record


@pytest.mark.skipif(os.environ.get("CNN_SEARCH_NO_TENSORFLOW") != "1",
                    reason="only in CI's no-TensorFlow job (CNN_SEARCH_NO_TENSORFLOW=1)")
def test_tensorflow_is_not_importable_in_the_no_tensorflow_job():
    assert configured_backend() != "tensorflow"
    with pytest.raises(ImportError):
        import tensorflow  # noqa: F401
    assert "tensorflow" not in sys.modules


def test_train_runs_and_records_its_backend(tmp_path, data_dir):
    out = tmp_path / "run"
    code = main(["train", "cnn", "--set", "blocks=1", "--set", "filters_1=8", "--set", "dense_units=16",
                 "--epochs", "2", "--subset", "1000", "--quiet",
                 "--data-dir", str(data_dir), "--out", str(out)])
    assert code == 0
    m = json.loads((out / "metrics.json").read_text())
    assert_recorded_backend(m)
    assert m["test"]["accuracy"] > 0.3, "well above the 0.1 of chance after 2 epochs"
    assert m["backend"] in m["versions"], "the backend's version is recorded with it"


@pytest.mark.parametrize("engine,filters,extra", [
    ("optuna", [4, 8], '[optuna]\nsampler = "grid"'),
    ("grid", [4], '[validation]\nmethod = "kfold"\nfolds = 2'),  # one grid point, 2 folds
])
def test_both_engines_run_a_study_and_record_the_backend(engine, filters, extra, tmp_path, data_dir):
    space = write_space(tmp_path, f"b-{engine}", engine, filters, extra)
    code = main(["run", str(space), "--data-dir", str(data_dir), "--results-dir", str(tmp_path)])
    assert code == 0
    study = load(f"b-{engine}", tmp_path)
    assert sorted(t.params["filters_1"] for t in study.get_trials(states=(TrialState.COMPLETE,))) == filters
    for t in study.trials:
        assert_recorded_backend(t.user_attrs)
        assert 0.1 < t.user_attrs["val_accuracy"] <= 1
    assert_recorded_backend(study.user_attrs)


def test_a_worker_process_runs_the_queue_and_records_the_backend(tmp_path, data_dir):
    space = write_space(tmp_path, "b-worker", "optuna", [4, 6], '[optuna]\nsampler = "grid"')
    env = {**os.environ, "CNN_SEARCH_DATA": str(data_dir)}
    done = subprocess.run([sys.executable, "-m", "search", "run", str(space), "--workers", "1",
                           "--results-dir", str(tmp_path)], capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr
    assert "done 2/2" in done.stderr
    study = load("b-worker", tmp_path)
    assert study.user_attrs["backend"] == configured_backend()
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(complete) == 2 and len({t.user_attrs[WORKER_ATTR] for t in complete}) == 1
    for t in complete:
        assert_recorded_backend(t.user_attrs)
    log = (tmp_path / "b-worker" / "workers" / "worker-1.log").read_text()
    assert f"on {configured_backend()} on cpu" in log


@pytest.mark.parametrize("share,fraction", [(1, "0.900"), (2, "0.450"), (4, "0.225"), (8, "0.113")])
def test_k_trials_on_one_gpu_each_get_a_capped_part_of_it_on_every_backend(share, fraction):
    env = device_env(Slot(gpu=3, share=share))
    assert env["CUDA_VISIBLE_DEVICES"] == "3"
    assert env["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"  # JAX: no 75 % grab at start ...
    assert env["XLA_PYTHON_CLIENT_MEM_FRACTION"] == fraction  # ... and a pool no larger than its part
    assert env["TF_FORCE_GPU_ALLOW_GROWTH"] == "true"  # TensorFlow: grows, then the limit set in the worker
    assert env[FRACTION_ENV] == fraction  # read by the worker for TensorFlow's limit and torch's fraction
    assert float(fraction) * share <= 0.91
    assert memory_fraction(share) == pytest.approx(float(fraction), abs=5e-4)
    config = PoolConfig(study="s", storage="x.journal", results_dir=Path("r"), log_dir=Path("r/w"))
    command = LocalPool(config, []).command(Slot(gpu=3, share=share))
    assert command[command.index("--trials-per-gpu") + 1] == str(share)
    assert command[command.index("--device") + 1] == "gpu:3"


def test_a_cpu_worker_hides_every_gpu_and_sets_no_cap():
    env = placement_env(None)
    assert env == {"CUDA_VISIBLE_DEVICES": "", "JAX_PLATFORMS": "cpu"}
    config = PoolConfig(study="s", storage="x.journal", results_dir=Path("r"), log_dir=Path("r/w"))
    assert "--trials-per-gpu" not in LocalPool(config, []).command(Slot(gpu=None, threads=1))


def test_the_memory_cap_runs_on_this_backend_without_a_gpu(monkeypatch):
    """The cap's code path for the backend in use on a CPU host (the GPU branch runs only where one is lent)."""
    monkeypatch.delenv(FRACTION_ENV, raising=False)
    assert apply_memory_cap() == "no GPU memory cap"
    monkeypatch.setenv(FRACTION_ENV, "0.225")
    assert apply_memory_cap() == "no GPU: no memory cap"


@pytest.mark.skipif(configured_backend() == "tensorflow", reason="TensorFlow feeds fit through tf.data either way")
def test_training_on_arrays_placed_on_the_device_gives_the_same_run(data_dir):
    """The data-on-GPU path (taken where a GPU is lent), on the CPU device: same batches, same figures."""
    from search.data import DataOptions, load_dataset
    from search.training import TrainConfig, train

    options = DataOptions(subset=600, test_subset=200)
    dataset = load_dataset(options, data_dir=data_dir)
    config = TrainConfig("cnn", {"blocks": 1, "filters_1": 4, "dense_units": 16}, epochs=1, data=options)
    host = train(config, dataset=dataset, verbose=False).metrics
    placed = train(config, dataset=dataset, verbose=False, data_on_device=True).metrics
    assert host["data_on_device"] is False and placed["data_on_device"] is True
    for split in ("train", "val", "test"):
        assert placed[split] == pytest.approx(host[split], abs=1e-6), split
