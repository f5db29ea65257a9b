"""Both search engines on small real subsets: budget, stratification, resume, pruning, records."""

from __future__ import annotations

import keras
import numpy as np
import optuna
import pytest
from optuna.trial import TrialState
from scikeras.wrappers import KerasClassifier
from sklearn.base import is_classifier
from sklearn.model_selection import StratifiedKFold, check_cv

from search.data import load_dataset
from search.engines import FIELDS, StratifiedKerasClassifier, open_storage, run_grid, run_optuna
from search.engines.grid_engine import keras_model
from search.spaces import ParamCounter, validate_space_dict
from search.zoo import trainable_params

TINY = {"blocks": 1, "dense_units": 16}


def space(**overrides):
    data = {"study": "t", "variant": "cnn", "engine": "optuna", "epochs": 2, "batch_size": 128, "seed": 0,
            "fixed": dict(TINY), "search": {"filters_1": [4, 8]}, "optuna": {"sampler": "grid"},
            "data": {"subset": 600}}
    data.update(overrides)
    return validate_space_dict(data)


@pytest.fixture(scope="module")
def small_data(data_dir):
    return load_dataset(space().data_options(), data_dir=data_dir)


@pytest.fixture
def fit_spy(monkeypatch):
    """Records the trainable-parameter count of every model that reaches ``fit``."""
    fitted: list[int] = []
    original = keras.Model.fit

    def spying_fit(self, *args, **kwargs):
        fitted.append(trainable_params(self))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "fit", spying_fit)
    return fitted


def storage(tmp_path):
    return open_storage(None, "t", tmp_path)


def test_scikeras_needs_the_classifier_tag_for_stratified_cv():
    y = np.repeat(np.arange(10), 10)
    assert not is_classifier(KerasClassifier(model=keras_model)), "if this passes, scikeras fixed its tags"
    ours = StratifiedKerasClassifier(model=keras_model)
    assert is_classifier(ours)
    assert isinstance(check_cv(3, y, classifier=is_classifier(ours)), StratifiedKFold)


def test_grid_engine_never_fits_over_budget(tmp_path, small_data, fit_spy):
    s = space(engine="grid", variant="grid50k", fixed={}, max_params=50_000,
              search={"kernel": [3, 5], "activation": ["relu", "elu"]}, epochs=1,
              validation={"method": "kfold", "folds": 2})
    study = run_grid(s, storage(tmp_path), small_data, ParamCounter())
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    skipped = [t for t in study.trials if t.user_attrs.get("status") == "over_budget"]
    assert len(complete) == 2 and len(skipped) == 2
    assert all(t.params["kernel"] == 5 and t.user_attrs["params"] > 50_000 for t in skipped)
    assert fit_spy and max(fit_spy) <= 50_000
    assert len(fit_spy) == 2 * 2  # two in-budget points x two folds
    for t in complete:
        assert len(t.user_attrs["val_scores"]) == 2
        assert t.value == pytest.approx(np.mean(t.user_attrs["val_scores"]))
        assert 0.0 <= min(t.user_attrs["val_scores"]) <= max(t.user_attrs["val_scores"]) <= 1.0


def test_optuna_engine_never_fits_over_budget(tmp_path, small_data, fit_spy):
    s = space(max_params=200_000, search={"filters_1": {"type": "int", "low": 2, "high": 64}},
              fixed={"blocks": 1, "dense_units": 32}, optuna={"sampler": "random", "n_trials": 8})
    study = run_optuna(s, storage(tmp_path), small_data, ParamCounter())
    over = [t for t in study.trials if t.user_attrs.get("status") == "over_budget"]
    assert over, "the space must produce over-budget samples for this test to mean anything"
    assert all(t.state == TrialState.PRUNED and t.user_attrs["params"] > 200_000 for t in over)
    assert fit_spy and max(fit_spy) <= 200_000
    assert len(fit_spy) == len(study.get_trials(states=(TrialState.COMPLETE,)))


def test_resume_runs_exactly_the_requested_trials(tmp_path, small_data):
    base = dict(search={"filters_1": {"type": "int", "low": 2, "high": 16}}, epochs=1)
    first = run_optuna(space(**base, optuna={"sampler": "tpe", "n_trials": 2}), storage(tmp_path), small_data,
                       ParamCounter())
    assert len(first.trials) == 2
    again = run_optuna(space(**base, optuna={"sampler": "tpe", "n_trials": 2}), storage(tmp_path), small_data,
                       ParamCounter())
    assert len(again.trials) == 2, "a finished study runs no new trials"
    more = run_optuna(space(**base, optuna={"sampler": "tpe", "n_trials": 4}), storage(tmp_path), small_data,
                      ParamCounter())
    numbers = [t.number for t in more.trials]
    assert len(more.get_trials(states=(TrialState.COMPLETE,))) == 4 and numbers == sorted(set(numbers))


def test_grid_engine_resumes_without_redoing_points(tmp_path, small_data):
    s = space(engine="grid", search={"filters_1": [4, 8]}, epochs=1, validation={"method": "kfold", "folds": 2})
    st = storage(tmp_path)
    run_grid(s, st, small_data, ParamCounter())
    study = run_grid(s, st, small_data, ParamCounter())
    assert sorted(t.params["filters_1"] for t in study.trials) == [4, 8]


def test_median_pruner_prunes_diverging_trials(tmp_path, small_data):
    s = space(epochs=4, search={"learning_rate": [0.003, 9.0], "filters_1": [4, 6, 8]},
              fixed={"blocks": 1, "dense_units": 16, "optimizer": "adam"},
              optuna={"sampler": "grid", "pruner": "median"})
    study = run_optuna(s, storage(tmp_path), small_data, ParamCounter())
    pruned = [t for t in study.trials if t.user_attrs.get("status") == "pruned"]
    assert pruned, [(t.params, t.state, t.intermediate_values) for t in study.trials]
    assert all(t.params["learning_rate"] == 9.0 for t in pruned)
    assert all(t.user_attrs["pruned_at_epoch"] < 4 for t in pruned)


def test_both_engines_leave_comparable_records(tmp_path, small_data):
    grid = run_grid(space(engine="grid", epochs=1, validation={"method": "kfold", "folds": 2}),
                    open_storage(None, "g", tmp_path), small_data, ParamCounter())
    opt = run_optuna(space(epochs=1, validation={"repeats": 2}), open_storage(None, "o", tmp_path), small_data,
                     ParamCounter())
    for study, engine in ((grid, "grid"), (opt, "optuna")):
        for t in study.get_trials(states=(TrialState.COMPLETE,)):
            assert set(FIELDS) - {"history"} <= set(t.user_attrs), engine
            assert t.user_attrs["engine"] == engine and t.user_attrs["n"] == 2
            assert t.value == pytest.approx(t.user_attrs["val_accuracy"])
    assert isinstance(opt.trials[0].user_attrs["history"], list)


def test_space_mismatch_on_resume_is_refused(tmp_path, small_data):
    run_optuna(space(epochs=1), storage(tmp_path), small_data, ParamCounter())
    with pytest.raises(Exception, match="different space"):
        run_optuna(space(epochs=1, search={"filters_1": [4, 16]}), storage(tmp_path), small_data, ParamCounter())


def test_study_is_readable_by_plain_optuna(tmp_path, small_data):
    run_optuna(space(epochs=1), storage(tmp_path), small_data, ParamCounter())
    study = optuna.load_study(study_name="t", storage=storage(tmp_path))
    assert study.user_attrs["space"]["variant"] == "cnn"


@pytest.mark.parametrize("engine", ["optuna", "grid"])
def test_a_loss_that_turns_nan_prunes_the_trial_with_the_reason(engine, tmp_path, small_data):
    diverging = {"blocks": 1, "optimizer": "sgd", "learning_rate": 9.9, "activation": "elu"}
    extra = {"validation": {"method": "kfold", "folds": 2}} if engine == "grid" else {}
    s = space(engine=engine, epochs=3, fixed=diverging, search={"dense_units": [128]}, **extra)
    study = run_optuna(s, storage(tmp_path), small_data, ParamCounter())
    [trial] = study.trials
    assert trial.state == TrialState.PRUNED and trial.user_attrs["status"] == "diverged"
    assert "loss became nan" in trial.user_attrs["reason"] or "loss became inf" in trial.user_attrs["reason"]


def test_a_lowered_n_trials_is_honoured_although_tickets_are_left(tmp_path, small_data):
    from search.engines.queue import queued

    base = dict(search={"filters_1": {"type": "int", "low": 2, "high": 16}}, epochs=1)
    st = storage(tmp_path)
    study = run_optuna(space(**base, optuna={"sampler": "random", "n_trials": 2}), st, small_data, ParamCounter())
    for _ in range(3):  # tickets of a larger run that was stopped before it ran them
        study.enqueue_trial({})
    again = run_optuna(space(**base, optuna={"sampler": "random", "n_trials": 3}), st, small_data, ParamCounter())
    assert len(again.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))) == 3
    assert queued(again) == 2, "surplus tickets stay queued, unrun"
