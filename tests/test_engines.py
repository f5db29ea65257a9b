"""Both search engines on small real subsets: budget, stratification, resume, pruning, records."""

from __future__ import annotations

import keras
import numpy as np
import optuna
import pytest
from optuna.trial import TrialState
from scikeras.wrappers import KerasClassifier
from sklearn.base import BaseEstimator, is_classifier
from sklearn.model_selection import StratifiedKFold, check_cv

from search.data import load_dataset
from search.engines import StratifiedKerasClassifier
from search.engines.grid_engine import keras_model
from search.execution import run_study
from search.records import FIELDS
from search.spaces import ParamCounter, validate_space_dict
from search.storages import open_storage
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


@pytest.mark.smoke
def test_scikeras_needs_the_classifier_tag_for_stratified_cv():
    y = np.repeat(np.arange(10), 10)
    if hasattr(BaseEstimator, "__sklearn_tags__"):  # scikit-learn >= 1.6; older ones read scikeras's _estimator_type
        assert not is_classifier(KerasClassifier(model=keras_model)), "if this passes, scikeras fixed its tags"
    ours = StratifiedKerasClassifier(model=keras_model)
    assert is_classifier(ours)
    assert isinstance(check_cv(3, y, classifier=is_classifier(ours)), StratifiedKFold)


def test_grid_engine_never_fits_over_budget(tmp_path, small_data, fit_spy):
    s = space(engine="grid", variant="grid50k", fixed={}, max_params=50_000,
              search={"kernel": [3, 5], "activation": ["relu", "elu"]}, epochs=1,
              validation={"method": "kfold", "folds": 2})
    study = run_study(s, storage(tmp_path), small_data, ParamCounter())
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
    study = run_study(s, storage(tmp_path), small_data, ParamCounter())
    over = [t for t in study.trials if t.user_attrs.get("status") == "over_budget"]
    assert over, "the space must produce over-budget samples for this test to mean anything"
    assert all(t.state == TrialState.PRUNED and t.user_attrs["params"] > 200_000 for t in over)
    assert fit_spy and max(fit_spy) <= 200_000
    assert len(fit_spy) == len(study.get_trials(states=(TrialState.COMPLETE,)))


def test_resume_runs_exactly_the_requested_trials(tmp_path, small_data):
    base = dict(search={"filters_1": {"type": "int", "low": 2, "high": 16}}, epochs=1)
    first = run_study(space(**base, optuna={"sampler": "tpe", "n_trials": 2}), storage(tmp_path), small_data,
                      ParamCounter())
    assert len(first.trials) == 2
    again = run_study(space(**base, optuna={"sampler": "tpe", "n_trials": 2}), storage(tmp_path), small_data,
                      ParamCounter())
    assert len(again.trials) == 2, "a finished study runs no new trials"
    more = run_study(space(**base, optuna={"sampler": "tpe", "n_trials": 4}), storage(tmp_path), small_data,
                     ParamCounter())
    numbers = [t.number for t in more.trials]
    assert len(more.get_trials(states=(TrialState.COMPLETE,))) == 4 and numbers == sorted(set(numbers))


@pytest.mark.smoke
def test_grid_engine_resumes_without_redoing_points(tmp_path, small_data):
    s = space(engine="grid", search={"filters_1": [4, 8]}, epochs=1, validation={"method": "kfold", "folds": 2})
    st = storage(tmp_path)
    run_study(s, st, small_data, ParamCounter())
    study = run_study(s, st, small_data, ParamCounter())
    assert sorted(t.params["filters_1"] for t in study.trials) == [4, 8]


def test_median_pruner_prunes_diverging_trials(tmp_path, small_data):
    s = space(epochs=4, search={"learning_rate": [0.003, 9.0], "filters_1": [4, 6, 8]},
              fixed={"blocks": 1, "dense_units": 16, "optimizer": "adam"},
              optuna={"sampler": "grid", "pruner": "median"})
    study = run_study(s, storage(tmp_path), small_data, ParamCounter())
    pruned = [t for t in study.trials if t.user_attrs.get("status") == "pruned"]
    assert pruned, [(t.params, t.state, t.intermediate_values) for t in study.trials]
    assert all(t.params["learning_rate"] == 9.0 for t in pruned)
    assert all(t.user_attrs["pruned_at_epoch"] < 4 for t in pruned)


def test_both_engines_leave_comparable_records(tmp_path, small_data):
    grid = run_study(space(engine="grid", epochs=1, validation={"method": "kfold", "folds": 2}),
                     open_storage(None, "g", tmp_path), small_data, ParamCounter())
    opt = run_study(space(epochs=1, validation={"repeats": 2}), open_storage(None, "o", tmp_path), small_data,
                    ParamCounter())
    for study, engine in ((grid, "grid"), (opt, "optuna")):
        complete = study.get_trials(states=(TrialState.COMPLETE,))
        assert complete, engine
        for t in complete:
            a = t.user_attrs
            missing = [f for f in FIELDS if a.get(f) is None]
            assert not missing, (engine, missing)  # val loss, test figures, histories: every engine, every point
            assert a["engine"] == engine and a["n"] == 2 and len(a["val_scores"]) == 2
            assert t.value == pytest.approx(a["val_accuracy"])
            assert 0 < a["val_loss"] < 5 and 0 < a["test_loss"] < 5 and 0 < a["test_accuracy"] <= 1
            assert len(a["histories"]) == 2 and all(len(h) == 1 for h in a["histories"]), engine
            history = a["histories"][0][0]
            assert {"loss", "accuracy", "epoch_time_s", "elapsed_s"} <= set(history), engine
            # one definition of training time: fit's start to the end of its last epoch, in both engines
            assert a["training_time_s"] == pytest.approx(np.mean([h[-1]["elapsed_s"] for h in a["histories"]]))
            assert a["image_epochs"] == 2 * a["n_train"] * 1, engine


def test_space_mismatch_on_resume_is_refused(tmp_path, small_data):
    run_study(space(epochs=1), storage(tmp_path), small_data, ParamCounter())
    with pytest.raises(Exception, match="different space"):
        run_study(space(epochs=1, search={"filters_1": [4, 16]}), storage(tmp_path), small_data, ParamCounter())


@pytest.mark.smoke
def test_study_is_readable_by_plain_optuna(tmp_path, small_data):
    run_study(space(epochs=1), storage(tmp_path), small_data, ParamCounter())
    study = optuna.load_study(study_name="t", storage=storage(tmp_path))
    assert study.user_attrs["space"]["variant"] == "cnn"


@pytest.mark.parametrize("engine", ["optuna", "grid"])
def test_a_loss_that_turns_nan_prunes_the_trial_with_the_reason(engine, tmp_path, small_data):
    diverging = {"blocks": 1, "optimizer": "sgd", "learning_rate": 9.9, "activation": "elu"}
    extra = {"validation": {"method": "kfold", "folds": 2}} if engine == "grid" else {}
    s = space(engine=engine, epochs=3, fixed=diverging, search={"dense_units": [128]}, **extra)
    study = run_study(s, storage(tmp_path), small_data, ParamCounter())
    [trial] = study.trials
    assert trial.state == TrialState.PRUNED and trial.user_attrs["status"] == "diverged"
    assert "loss became nan" in trial.user_attrs["reason"] or "loss became inf" in trial.user_attrs["reason"]


def test_a_lowered_n_trials_is_honoured_although_tickets_are_left(tmp_path, small_data):
    from search.study.queue import queued

    base = dict(search={"filters_1": {"type": "int", "low": 2, "high": 16}}, epochs=1)
    st = storage(tmp_path)
    study = run_study(space(**base, optuna={"sampler": "random", "n_trials": 2}), st, small_data, ParamCounter())
    for _ in range(3):  # tickets of a larger run that was stopped before it ran them
        study.enqueue_trial({})
    again = run_study(space(**base, optuna={"sampler": "random", "n_trials": 3}), st, small_data, ParamCounter())
    assert len(again.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))) == 3
    assert queued(again) == 2, "surplus tickets stay queued, unrun"


def test_the_adadelta_half_of_seed001s_grid_learns(tmp_path, data_dir):
    """The shipped space, as the seed ran it: 'Adadelta' by name meant a rate of 1.0 (Keras 3: 0.001, chance)."""
    from search.spaces import load_space

    shipped = load_space("spaces/seed001-grid.toml").with_overrides(subset=3000, epochs=2).to_record()
    shipped["search"].update(optimizer=["Adadelta"], activation=["relu"], dropout_rate=[0.2])
    s = validate_space_dict(shipped)
    data = load_dataset(s.data_options(), data_dir=data_dir)
    study = run_study(s, storage(tmp_path), data, ParamCounter())
    [trial] = study.get_trials(states=(TrialState.COMPLETE,))
    assert trial.user_attrs["val_accuracy"] >= 0.6, trial.user_attrs["val_scores"]
    assert trial.user_attrs["test_accuracy"] >= 0.6 and trial.user_attrs["val_loss"] < 1.5


@pytest.mark.parametrize("engine", ["optuna", "grid"])
def test_evaluate_test_false_leaves_no_test_figures(engine, tmp_path, small_data, monkeypatch):
    predicted = []
    original = keras.Model.predict
    monkeypatch.setattr(keras.Model, "predict", lambda self, x, **kw: predicted.append(len(x)) or original(
        self, x, **kw))
    validation = {"method": "kfold", "folds": 2} if engine == "grid" else {}
    s = space(engine=engine, epochs=1, search={"filters_1": [4]}, validation={**validation, "evaluate_test": False})
    study = run_study(s, storage(tmp_path), small_data, ParamCounter())
    [trial] = study.get_trials(states=(TrialState.COMPLETE,))
    attrs = trial.user_attrs
    assert [attrs[k] for k in ("test_accuracy", "test_accuracy_std", "test_loss", "test_loss_std")] == [None] * 4
    assert attrs.get("test_confusion_matrix") is None and attrs["val_loss"] is not None
    assert len(small_data.x_test) not in predicted, "the test images were never run through a model"


def test_an_optuna_trial_trains_with_its_spaces_normalisation(tmp_path, data_dir):
    # Trials once read the normalisation from a default TrainConfig: seed 001's "standardize" ran on x / 255.
    from search.training import TrainConfig, train

    s = space(epochs=1, search={"filters_1": [4]}, data={"subset": 600, "normalize": "standardize"},
              validation={"evaluate_test": False})
    data = load_dataset(s.data_options(), data_dir=data_dir)
    [trial] = run_study(s, storage(tmp_path), data, ParamCounter()).get_trials(states=(TrialState.COMPLETE,))
    assert trial.user_attrs["normalization"] == "standardize"
    config = TrainConfig("cnn", {**TINY, "filters_1": 4}, epochs=1, batch_size=128, seed=0, data=s.data_options(),
                         evaluate_test=False)
    direct = train(config, dataset=data, verbose=False)
    assert trial.value == pytest.approx(direct.metrics["val"]["accuracy"], abs=1e-6), "the same run as train()"


def test_each_fold_is_normalised_with_its_own_training_part_only(small_data):
    from search.engines.evaluation import evaluate_configuration

    runs = evaluate_configuration("cnn", dict(TINY), epochs=1, batch_size=128, dataset=small_data, seed=0,
                                  method="kfold", folds=3)
    for run in runs:
        norm, data = run["data"]["normalization"], run["data"]
        assert (norm["fitted_on"], norm["n_fit"]) == ("train", data["n_train"]) and data["n_train"] == 400

    # GridSearchCV's folds: the estimator fits its normalisation on the X it is given, i.e. the training part
    x, y = small_data.x_trainval, small_data.y_trainval
    folds = list(StratifiedKFold(3, shuffle=True, random_state=0).split(x, y))
    estimator = StratifiedKerasClassifier(model=keras_model, model__variant="cnn", model__hparams=dict(TINY),
                                          model__normalize="standardize", epochs=1, batch_size=128, verbose=0)
    train_idx, val_idx = folds[0]
    estimator.fit(x[train_idx], y[train_idx])
    assert estimator.normalization_.n_fit == len(train_idx)
    np.testing.assert_allclose(estimator.normalization_.mean, x[train_idx].mean(axis=0), rtol=1e-5)
    assert not np.allclose(estimator.normalization_.mean, x.mean(axis=0), rtol=1e-3), "the fold's own statistics"


def test_the_compute_budget_is_a_hard_bound(tmp_path, small_data):
    """A trial starts only if it fits at its largest beside what ran: 2 x 480 x 2 = 1,920 <= 2,000; a third not."""
    from search.study.study import compute_exhausted, compute_used

    capped = space(search={"filters_1": {"type": "int", "low": 2, "high": 8}},
                   optuna={"sampler": "random", "n_trials": 5, "max_image_epochs": 2000})
    study = run_study(capped, storage(tmp_path), small_data, ParamCounter())
    assert study.user_attrs["trial_image_epochs"] == 2 * len(small_data.y_train) == 960
    assert len(study.get_trials(states=(TrialState.COMPLETE,))) == 2
    assert compute_used(study) == 1920 <= 2000
    assert compute_exhausted(study)
