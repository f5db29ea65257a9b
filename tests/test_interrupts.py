"""Ctrl-C stops training and workers even where Keras swallows ``KeyboardInterrupt``.

Keras wraps parts of tracing a training step in bare ``except:`` clauses
(``keras.src.trainers.compile_utils``). The tests deliver a real SIGINT to this
process from inside one of them, where a plain Ctrl-C is lost.
"""

from __future__ import annotations

import signal
import sys

import keras
import pytest
from optuna.trial import TrialState

from search import interrupts
from search.data import DataOptions, load_dataset
from search.execution.loop import work
from search.spaces import validate_space_dict
from search.storages import open_storage
from search.study import open_study
from search.study.queue import top_up
from search.training import TrainConfig, train


@pytest.fixture
def handlers():
    """The CLI's handlers for the test, and the test runner's back afterwards."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    interrupts.reset()
    interrupts.install()
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)
    interrupts.reset()


@pytest.fixture
def ctrl_c_inside_keras_tracing(monkeypatch):
    """Sends SIGINT once, from inside the first call Keras makes under its bare ``except:``."""
    from keras.src.trainers import compile_utils

    original = compile_utils.tree.pack_sequence_as
    sent = []

    def pack_sequence_as(*args, **kwargs):
        if not sent and "compile_utils" in sys._getframe(1).f_code.co_filename:
            sent.append(True)
            signal.raise_signal(signal.SIGINT)
        return original(*args, **kwargs)

    monkeypatch.setattr(compile_utils.tree, "pack_sequence_as", pack_sequence_as)
    return sent


class BatchCounter(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1


def queued_study(tmp_path, name, filters):
    """A grid study over ``filters_1`` in a journal under ``tmp_path``, its trials queued."""
    space = validate_space_dict({"study": name, "variant": "cnn", "engine": "optuna", "fixed": {"blocks": 1},
                                 "search": {"filters_1": filters}, "optuna": {"sampler": "grid"}})
    study = open_study(space, open_storage(None, name, tmp_path))
    top_up(study, space)
    return study


@pytest.fixture(scope="module")
def tiny(data_dir):
    return load_dataset(DataOptions(subset=600, test_subset=300), data_dir=data_dir)


def test_keras_swallows_a_plain_ctrl_c_while_tracing(tiny, ctrl_c_inside_keras_tracing):
    """Why the rest is needed: with Python's own handler the fit runs to its end."""
    saved = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                                  keras.layers.Dense(10, activation="softmax")])
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        history = model.fit(tiny.x_train, tiny.y_train, epochs=2, batch_size=128, verbose=0)
    finally:
        signal.signal(signal.SIGINT, saved)
    assert ctrl_c_inside_keras_tracing and len(history.history["loss"]) == 2


def test_a_swallowed_ctrl_c_stops_training_after_that_batch(tiny, handlers, ctrl_c_inside_keras_tracing):
    counter = BatchCounter()
    config = TrainConfig("cnn", {"blocks": 1, "dense_units": 16}, epochs=3, batch_size=64)
    with pytest.raises(KeyboardInterrupt):
        train(config, dataset=tiny, verbose=False, callbacks=[counter])
    assert ctrl_c_inside_keras_tracing and counter.batches <= 1


def test_a_worker_whose_ctrl_c_was_swallowed_records_its_trial_and_claims_no_more(tmp_path, handlers):
    study = queued_study(tmp_path, "swallow", [4, 6, 8])

    def objective(trial):
        trial.suggest_categorical("filters_1", [4, 6, 8])
        interrupts.request()  # a Ctrl-C came and something swallowed it; the trial still ends normally
        return 0.5

    with pytest.raises(KeyboardInterrupt):
        work(study, objective)
    states = sorted(t.state.name for t in study.trials)
    assert states == ["COMPLETE", "WAITING", "WAITING"], "the finished trial kept, the rest left queued"
    assert not study.get_trials(states=(TrialState.RUNNING,))


def test_a_trial_that_fails_after_a_swallowed_ctrl_c_is_requeued_not_failed_for_good(tmp_path, handlers):
    """The half-traced step Keras leaves behind raises something else; the trial is the interrupt's, not bad."""
    study = queued_study(tmp_path, "broken", [4, 6])

    def objective(trial):
        trial.suggest_categorical("filters_1", [4, 6])
        interrupts.request()  # swallowed ...
        raise AttributeError("'NoneType' object has no attribute 'shape'")  # ... and what followed from it

    with pytest.raises(KeyboardInterrupt):
        work(study, objective)
    failed = study.get_trials(states=(TrialState.FAIL,))
    assert len(failed) == 1 and failed[0].user_attrs["interrupted"] is True
    assert "status" not in failed[0].user_attrs, "not recorded as a failing configuration"
    retries = [t for t in study.trials if t.user_attrs.get("retry_of") == failed[0].number]
    assert len(retries) == 1 and retries[0].state == TrialState.WAITING


def test_a_failing_trial_without_a_ctrl_c_is_recorded_and_the_worker_goes_on(tmp_path, handlers):
    study = queued_study(tmp_path, "fails", [4, 6])

    def objective(trial):
        trial.suggest_categorical("filters_1", [4, 6])
        raise ValueError("bad configuration")

    assert work(study, objective) == 2
    assert [t.state for t in study.trials] == [TrialState.FAIL, TrialState.FAIL]
    assert all("bad configuration" in t.user_attrs["reason"] for t in study.trials)
