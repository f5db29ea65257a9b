"""Search-space files: every mistake is one line naming the file and the key; the shipped files validate."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from search.errors import ConfigError
from search.spaces import (
    FloatRange,
    IntRange,
    ParamCounter,
    Space,
    check_feasible,
    load_space,
    validate_space_dict,
)

SPACES = sorted((Path(__file__).resolve().parents[1] / "spaces").glob("*.toml"))

# A valid optuna space the malformed cases below are variations of.
HEAD = 'study = "s"\nvariant = "cnn"\n'
TRIALS = "[optuna]\nn_trials = 3\n"


def write(tmp_path: Path, text: str, name: str = "bad.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


MALFORMED = {
    "unknown top-level key": (
        HEAD + 'epoch = 3\n[search]\nkernel = [3, 5]\n' + TRIALS,
        ["epoch: unknown key", "allowed: study, variant"],
    ),
    "unknown key under [optuna]": (
        HEAD + '[search]\nkernel = [3, 5]\n[optuna]\nn_trial = 3\n',
        ["optuna.n_trial: unknown key", "allowed: sampler, pruner, n_trials, timeout"],
    ),
    "wrong type": (
        HEAD + 'epochs = "ten"\n[search]\nkernel = [3, 5]\n' + TRIALS,
        ["epochs: ", "valid integer", "'ten'"],
    ),
    "empty grid": (
        HEAD + '[search]\nkernel = []\n' + TRIALS,
        ["search.kernel: empty grid"],
    ),
    "dropout 1.5 in a grid": (
        'study = "s"\nvariant = "grid50k"\n[search]\ndropout_rate = [0.2, 1.5]\n' + TRIALS,
        ["search.dropout_rate: hyperparameter 'dropout_rate' = 1.5 is not allowed; allowed: a number in [0, 1)"],
    ),
    "dropout range above 1": (
        HEAD + '[search]\nconv_dropout = { type = "float", low = 0.1, high = 1.5 }\n' + TRIALS,
        ["search.conv_dropout: ", "1.5 is not allowed", "[0, 1)"],
    ),
    "unknown optimizer": (
        HEAD + '[fixed]\noptimizer = "adamax"\n[search]\nkernel = [3, 5]\n' + TRIALS,
        ["fixed.optimizer: ", "'adamax' is not allowed", "adam, adamw, nadam"],
    ),
    "unknown activation": (
        HEAD + '[search]\nactivation = ["relu", "swish"]\n' + TRIALS,
        ["search.activation: ", "'swish' is not allowed", "relu, leaky_relu"],
    ),
    "hyperparameter the variant lacks": (
        'study = "s"\nvariant = "grid50k"\n[search]\nfilters_1 = [8, 16]\n' + TRIALS,
        ["search.filters_1: variant 'grid50k' has no hyperparameter 'filters_1'; valid: activation, dropout_rate"],
    ),
    "unknown variant": (
        'study = "s"\nvariant = "resnet"\n[search]\nkernel = [3]\n' + TRIALS,
        ["variant: unknown variant 'resnet'; valid: ", "grid50k", "cnn"],
    ),
    "float range on an int hyperparameter": (
        HEAD + '[search]\nkernel = { type = "float", low = 2, high = 5 }\n' + TRIALS,
        ["search.kernel: ", "float range does not fit", 'type = "int"'],
    ),
    "int range on a float hyperparameter": (
        HEAD + '[search]\nconv_dropout = { type = "int", low = 0, high = 1 }\n' + TRIALS,
        ["search.conv_dropout: ", "int range does not fit", 'type = "float"'],
    ),
    "low not below high": (
        HEAD + '[search]\nfilters_1 = { type = "int", low = 32, high = 32 }\n' + TRIALS,
        ["search.filters_1: low (32) must be less than high (32)"],
    ),
    "log range from zero": (
        HEAD + '[search]\nconv_dropout = { type = "float", low = 0.0, high = 0.5, log = true }\n' + TRIALS,
        ["search.conv_dropout: log = true needs low > 0"],
    ),
    "optuna without a stopping rule": (
        HEAD + '[search]\nkernel = [3, 5]\n',
        ["optuna: ", "n_trials or timeout"],
    ),
    "engine grid with a range": (
        HEAD + 'engine = "grid"\n[search]\nfilters_1 = { type = "int", low = 8, high = 32 }\n'
        '[validation]\nmethod = "kfold"\n',
        ["search.filters_1: ", 'engine = "grid" needs a list of values'],
    ),
    "engine grid with holdout": (
        HEAD + 'engine = "grid"\n[search]\nkernel = [3, 5]\n[validation]\nmethod = "holdout"\n',
        ["validation.method: ", 'must be "kfold"'],
    ),
    "sampler grid with a range": (
        HEAD + '[search]\nlearning_rate = { type = "float", low = 1e-4, high = 1e-2 }\n[optuna]\nsampler = "grid"\n',
        ["search.learning_rate: ", 'sampler = "grid" needs a list'],
    ),
    "key both fixed and searched": (
        HEAD + '[fixed]\nkernel = 3\n[search]\nkernel = [3, 5]\n' + TRIALS,
        ["search.kernel: ", "both [fixed] and [search]"],
    ),
    "scalar search entry": (
        HEAD + '[search]\nkernel = 3\n' + TRIALS,
        ["search.kernel: ", "a list of values or a table with type"],
    ),
    "unknown key in a range": (
        HEAD + '[search]\nfilters_1 = { type = "int", low = 8, high = 32, lg = true }\n' + TRIALS,
        ["search.filters_1.lg: unknown key", "allowed: type, low, high, step, log"],
    ),
    "float epochs range": (
        HEAD + '[search]\nepochs = { type = "float", low = 1, high = 5 }\n' + TRIALS,
        ["search.epochs: ", "float range does not fit"],
    ),
    "variant and variants": (
        'study = "s"\nvariant = "1A"\nvariants = ["1A", "1B"]\n[optuna]\nsampler = "grid"\n',
        ["variants: ", "not both"],
    ),
    "variants without the grid sampler": (
        'study = "s"\nvariants = ["1A", "1B"]\n' + TRIALS,
        ["variants: ", 'sampler = "grid"'],
    ),
    "missing study": (
        'variant = "cnn"\n[search]\nkernel = [3, 5]\n' + TRIALS,
        ["study: required key is missing"],
    ),
    "bad study name": (
        'study = "my study"\nvariant = "cnn"\n[search]\nkernel = [3, 5]\n' + TRIALS,
        ["study: ", "pattern", "'my study'"],
    ),
    "budget no point meets": (
        'study = "s"\nvariant = "grid50k"\nengine = "grid"\nmax_params = 1000\n'
        '[search]\nkernel = [3, 5]\n[validation]\nmethod = "kfold"\n',
        ["max_params: no configuration of the space fits max_params=1000 (smallest has 47,582 trainable params)"],
    ),
    "invalid TOML": (
        HEAD + "[search]\nkernel = [3, 5\n",
        ["invalid TOML: "],
    ),
    "unknown key under [training]": (
        HEAD + '[search]\nkernel = [3, 5]\n' + TRIALS + '[training]\nxla = true\n',
        ["training.xla: unknown key", "allowed: steps_per_execution, jit_compile, precision"],
    ),
    "unknown precision": (
        HEAD + '[search]\nkernel = [3, 5]\n' + TRIALS + '[training]\nprecision = "fp8"\n',
        ["training.precision: ", "'mixed_float16'", "'fp8'"],
    ),
    "per-optimizer rate for an unknown optimizer": (
        HEAD + '[fixed]\nlearning_rate = { adadelta = 1.0, adamax = 0.002 }\n[search]\noptimizer = ["adadelta"]\n'
        + TRIALS,
        ["fixed.learning_rate.adamax: 'adamax' is not an optimizer", "adadelta"],
    ),
    "per-optimizer rate out of range": (
        HEAD + '[fixed]\nlearning_rate = { adadelta = 50.0 }\n[search]\noptimizer = ["adadelta"]\n' + TRIALS,
        ["fixed.learning_rate.adadelta: hyperparameter 'learning_rate' = 50.0 is not allowed"],
    ),
    "condition on a later entry": (
        HEAD + '[search]\nfilters_3 = { type = "int", low = 8, high = 64, when = { blocks = [3] } }\n'
        'blocks = [2, 3]\n' + TRIALS,
        ["search.filters_3.when.blocks: ", "listed before it"],
    ),
    "condition with a value the hyperparameter cannot take": (
        HEAD + '[search]\nblocks = [2, 3]\nfilters_3 = { type = "int", low = 8, high = 64, when = { blocks = [9] } }\n'
        + TRIALS,
        ["search.filters_3.when.blocks: ", "9 is not allowed"],
    ),
    "condition in a grid": (
        HEAD + '[search]\nblocks = [2, 3]\n'
        'kernel = { type = "categorical", choices = [3, 5], when = { blocks = [3] } }\n[optuna]\nsampler = "grid"\n',
        ["search.kernel.when: ", "every combination"],
    ),
    "unknown budget kind": (
        HEAD + 'budget_counts = "weights"\n[search]\nkernel = [3, 5]\n' + TRIALS,
        ["budget_counts: ", "'trainable'", "'total'"],
    ),
    "early stopping with GridSearchCV": (
        'study = "s"\nvariant = "grid50k"\nengine = "grid"\n[search]\nkernel = [3, 5]\n'
        '[training]\nearly_stopping_patience = 2\n',
        ["training.early_stopping_patience: ", "without a validation split"],
    ),
    "per_variant with one variant": (
        'study = "s"\nvariant = "m1"\n[per_variant]\nm1 = { epochs = 3 }\n[search]\noptimizer = ["adam"]\n' + TRIALS,
        ["per_variant.m1: ", "comparison of variants"],
    ),
    "per_variant naming a variant not compared": (
        'study = "s"\nvariants = ["m1", "m3"]\n[per_variant]\nm4 = { epochs = 3 }\n[optuna]\nsampler = "grid"\n',
        ["per_variant.m4: 'm4' is not one of the compared variants (m1, m3)"],
    ),
    "unknown key under per_variant": (
        'study = "s"\nvariants = ["m1"]\n[per_variant]\nm1 = { epoch = 3 }\n[optuna]\nsampler = "grid"\n',
        ["per_variant.m1.epoch: unknown key (did you mean 'epochs'?); allowed: epochs, batch_size"],
    ),
    "per_variant epochs also searched": (
        'study = "s"\nvariants = ["m1"]\n[per_variant]\nm1 = { epochs = 3 }\n[search]\nepochs = [1, 2]\n'
        '[optuna]\nsampler = "grid"\n',
        ["per_variant.m1.epochs: ", "also in [search]"],
    ),
    "per_variant batch size zero": (
        'study = "s"\nvariants = ["m1"]\n[per_variant]\nm1 = { batch_size = 0 }\n[optuna]\nsampler = "grid"\n',
        ["per_variant.m1.batch_size: ", "greater than or equal to 1"],
    ),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_space_is_one_line_naming_file_and_key(tmp_path, case):
    text, expected = MALFORMED[case]
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_space(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"


def test_missing_file(tmp_path):
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match=r"nope\.toml: no such file$"):
        load_space(path)


def test_several_problems_report_the_first_and_count_the_rest(tmp_path):
    path = write(tmp_path, HEAD + 'epochs = 0\nbatch_size = "x"\n[search]\nkernel = [3]\n' + TRIALS)
    with pytest.raises(ConfigError, match=r"bad\.toml: epochs: .*\(and 1 more problem\)$"):
        load_space(path)


@pytest.mark.parametrize("path", SPACES, ids=[p.name for p in SPACES])
def test_shipped_spaces_validate_with_their_budget(path):
    space = load_space(path, check_budget=True)
    assert space.study == path.stem
    if space.is_grid:
        assert space.grid_points()
    else:
        assert set(space.optuna_search_space()) == set(space.hparam_keys())


def test_shipped_spaces_are_all_there():
    assert {p.name for p in SPACES} >= {"quickstart.toml", "seed001-grid.toml", "budget50k.toml", "variants.toml"}


def test_seed001_grid_has_24_points_and_epochs_override_halves_it():
    space = load_space(SPACES[0].parent / "seed001-grid.toml")
    points = space.grid_points()
    assert len(points) == 24
    assert len({tuple(sorted(p.items())) for p in points}) == 24
    assert space.validation.method == "kfold"
    assert {p["optimizer"] for p in points} == {"adadelta", "nadam"}  # normalised names
    variant, hparams, epochs, batch_size = space.split_params(points[-1])
    assert (variant, epochs, batch_size) == ("grid50k", 30, 32)
    assert "epochs" not in hparams and set(hparams) == {"activation", "dropout_rate", "optimizer"}

    short = space.with_overrides(epochs=1)
    assert "epochs" not in short.search and short.epochs == 1
    assert len(short.grid_points()) == 12
    assert all(short.split_params(p)[2] == 1 for p in short.grid_points())
    assert space.search["epochs"] == [20, 30]  # the original is untouched


def test_with_overrides_validates_cli_values():
    space = load_space(SPACES[0].parent / "quickstart.toml", check_budget=False)
    other = space.with_overrides(study="qs2", n_trials=2, timeout=60, subset=1000)
    assert (other.study, other.optuna.n_trials, other.optuna.timeout, other.data.subset) == ("qs2", 2, 60.0, 1000)
    assert other.data_options().subset == 1000 and other.data_options().seed == space.seed
    with pytest.raises(ConfigError, match=r"data\.subset: .*100"):
        space.with_overrides(subset=50)


def test_suggest_stays_inside_the_declared_ranges():
    space = load_space(SPACES[0].parent / "budget50k.toml", check_budget=False)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(20):
        trial = study.ask()
        point = space.suggest(trial)
        conditional = [k for k in space.hparam_keys() if not space.applies(space.search[k], point)]
        assert list(point) == [k for k in space.hparam_keys() if k not in conditional]
        for key, value in point.items():
            entry = space.search[key]
            if isinstance(entry, (IntRange, FloatRange)):
                assert entry.low <= value <= entry.high
                assert isinstance(value, int) == isinstance(entry, IntRange)
            else:
                assert value in entry
        assert ("filters_4" in point) == (point["blocks"] == 4)
        variant, hparams, epochs, batch_size = space.split_params(point)
        assert variant == "cnn" and epochs == 20 and batch_size == 128
        assert "batch_size" not in hparams
        study.tell(trial, 0.5)
    assert set(study.trials[0].distributions) <= set(space.optuna_search_space())


def test_record_round_trip_equals():
    for path in SPACES:
        space = load_space(path, check_budget=False)
        record = space.to_record()
        import json

        assert Space.from_record(json.loads(json.dumps(record))) == space


def test_variants_mode_is_a_grid_over_variant():
    space = load_space(SPACES[0].parent / "variants.toml")
    assert space.hparam_keys() == ["variant"]
    assert [p["variant"] for p in space.grid_points()] == ["1A", "1B", "2", "3", "4"]
    assert space.grid_search_space() == {"variant": ["1A", "1B", "2", "3", "4"]}
    assert space.split_params({"variant": "4"}) == ("4", {}, 25, 32)
    assert space.validation.repeats == 3


def test_variants_fixed_applies_to_the_variants_that_have_it():
    space = validate_space_dict({"study": "v", "variants": ["1A", "2"], "optuna": {"sampler": "grid"},
                                 "fixed": {"dropout": 0.3, "optimizer": "SGD"},
                                 "search": {"learning_rate": [0.01, 0.1]}})
    assert space.split_params({"variant": "1A", "learning_rate": 0.1})[1] == {"optimizer": "sgd",
                                                                             "learning_rate": 0.1}
    assert space.split_params({"variant": "2"})[1] == {"dropout": 0.3, "optimizer": "sgd"}
    assert len(space.grid_points()) == 4
    with pytest.raises(ConfigError, match=r"<dict>: search\.dropout: .*not one of 1A's"):
        validate_space_dict({"study": "v", "variants": ["1A", "2"], "optuna": {"sampler": "grid"},
                             "search": {"dropout": [0.1, 0.2]}})


def test_grid_engine_defaults_to_kfold_and_refuses_repeats():
    space = validate_space_dict({"study": "g", "variant": "grid50k", "engine": "grid",
                                 "search": {"kernel": [3, 5]}})
    assert space.validation.method == "kfold"
    with pytest.raises(ConfigError, match=r"validation\.repeats: .*must be 1"):
        validate_space_dict({"study": "g", "variant": "grid50k", "engine": "grid",
                             "search": {"kernel": [3, 5]}, "validation": {"repeats": 2}})


def test_grid_sampler_needs_no_stopping_rule_and_categorical_tables_are_lists():
    space = validate_space_dict({"study": "g", "variant": "cnn", "optuna": {"sampler": "grid"},
                                 "search": {"activation": {"type": "categorical", "choices": ["ReLU", "elu"]},
                                            "batch_size": [32, 64]}})
    assert space.grid_search_space() == {"activation": ["relu", "elu"], "batch_size": [32, 64]}
    assert len(space.grid_points()) == 4


def test_param_counter_caches_by_architecture():
    counter = ParamCounter()
    first = counter.count("grid50k", {"optimizer": "adam", "dropout_rate": 0.2})
    again = counter.count("grid50k", {"optimizer": "sgd", "dropout_rate": 0.4, "learning_rate": 0.1})
    assert first.trainable == again.trainable == 47582
    assert counter.builds == 1
    counter.count("grid50k", {"kernel": 5})
    assert counter.builds == 2


def test_collapsing_shapes_do_not_fit_and_do_not_crash():
    counter = ParamCounter()
    collapsing = {"blocks": 4, "pool": 4, "padding": "valid"}
    with pytest.raises(ConfigError, match="leaves nothing"):
        counter.count("cnn", collapsing)
    with pytest.raises(ConfigError, match="leaves nothing"):  # cached failures fail again
        counter.count("cnn", collapsing)
    assert counter.builds == 1
    grid = validate_space_dict({"study": "c", "variant": "cnn", "max_params": 10**9, "fixed": collapsing,
                                "search": {"kernel": [3, 5]}, "optuna": {"sampler": "grid"}})
    with pytest.raises(ConfigError, match=r"^c: no configuration .*none builds: "):
        check_feasible(grid, counter)
    mixed = validate_space_dict({"study": "m", "variant": "cnn", "max_params": 10**9,
                                 "fixed": {"pool": 4, "padding": "valid"},
                                 "search": {"blocks": [4, 1]}, "optuna": {"sampler": "grid"}})
    check_feasible(mixed, counter)  # blocks=1 builds and fits


def test_budget_probe_of_ranges():
    tight = validate_space_dict({"study": "p", "variant": "cnn", "max_params": 2000,
                                 "fixed": {"dense_units": 0},
                                 "search": {"filters_1": {"type": "int", "low": 4, "high": 64, "log": True},
                                            "blocks": {"type": "int", "low": 1, "high": 2}},
                                 "optuna": {"n_trials": 5}})
    with pytest.raises(ConfigError, match=r"^p: no configuration of the space fits max_params=2000 "
                                          r"\(smallest of the \d+ probed has [\d,]+ trainable params\)$"):
        check_feasible(tight)
    check_feasible(tight.model_copy(update={"max_params": 20000}))


def test_a_per_optimizer_learning_rate_table_gives_each_optimizer_its_rate():
    space = validate_space_dict({"study": "s", "variant": "grid50k", "engine": "grid",
                                 "fixed": {"learning_rate": {"Adadelta": 1.0}},
                                 "search": {"optimizer": ["adadelta", "nadam"]}})
    assert space.fixed["learning_rate"] == {"adadelta": 1.0}
    rates = {p["optimizer"]: space.split_params(p)[1]["learning_rate"] for p in space.grid_points()}
    assert rates == {"adadelta": 1.0, "nadam": None}, "an optimizer the table leaves out keeps its default"


def test_conditional_entries_are_sampled_only_where_they_apply():
    space = validate_space_dict({"study": "s", "variant": "cnn", "optuna": {"n_trials": 40},
                                 "search": {"blocks": [2, 3],
                                            "filters_3": {"type": "int", "low": 8, "high": 64,
                                                          "when": {"blocks": [3]}}}})
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    seen = set()
    for _ in range(40):
        trial = study.ask()
        point = space.suggest(trial)
        seen.add(point["blocks"])
        assert ("filters_3" in trial.params) == (point["blocks"] == 3), trial.params
        study.tell(trial, 0.5)
    assert seen == {2, 3}


def test_budget_counts_total_parameters_when_asked():
    from search.spaces.budget import check_budget

    base = {"study": "s", "variant": "cnn", "max_params": 10_000, "optuna": {"n_trials": 1},
            "fixed": {"blocks": 1, "filters_1": 64, "batch_norm": True, "head": "gap", "dense_units": 0},
            "search": {"kernel": [3]}}
    trainable = validate_space_dict(base)
    total = validate_space_dict({**base, "budget_counts": "total"})
    counter = ParamCounter()
    hparams = trainable.split_params({"kernel": 3})[1]
    fits = check_budget(trainable, counter, "cnn", hparams)
    assert fits.status is None and fits.count.total - fits.count.trainable == 2 * 64, "BN's moving mean and var"
    tight = validate_space_dict({**base, "budget_counts": "total", "max_params": fits.count.trainable})
    over = check_budget(tight, counter, "cnn", hparams)
    assert over.status == "over_budget" and over.excess == 2 * 64 and "total params" in over.reason
    assert check_budget(total, counter, "cnn", hparams).status is None
