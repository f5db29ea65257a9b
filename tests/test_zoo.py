"""The zoo reproduces the seeds' networks and refuses what cannot be built."""

from __future__ import annotations

import pytest

from search.errors import ConfigError
from search.zoo import build_model, count_params, get_variant, list_variants


def conv(k: int, cin: int, cout: int) -> int:
    return k * k * cin * cout + cout


def dense(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out


def bn(channels: int) -> int:
    return 2 * channels  # gamma and beta are trainable; moving statistics are not


B1 = conv(3, 1, 64) + conv(3, 64, 64) + conv(3, 64, 128) + conv(3, 128, 128)
EXPECTED = {
    # Printed in the seeds' model summaries.
    "datacamp": 356_234,
    "datacamp-dropout": 356_234,
    "grid50k": 47_582,
    # Computed from the layers the reports describe.
    "1A": conv(3, 1, 16) + conv(3, 16, 16) + conv(3, 16, 32) + conv(3, 32, 32)
    + dense(7 * 7 * 32, 1024) + dense(1024, 10),
    "1B": B1 + dense(7 * 7 * 128, 1024) + dense(1024, 10),
    "2": B1 + dense(7 * 7 * 128, 1024) + dense(1024, 10),
    "3": B1 + bn(64) * 2 + bn(128) * 2 + dense(7 * 7 * 128, 1024) + dense(1024, 10),
    "4": conv(3, 1, 64) + 2 * conv(3, 64, 64) + conv(3, 64, 128) + 2 * conv(3, 128, 128)
    + conv(3, 128, 256) + 2 * conv(3, 256, 256) + 3 * (bn(64) + bn(128) + bn(256))
    + dense(3 * 3 * 256, 1024) + dense(1024, 512) + dense(512, 10),
    "m1": conv(3, 1, 32) + dense(13 * 13 * 32, 64) + dense(64, 10),
    "m3": conv(3, 1, 32) + conv(3, 32, 64) + conv(3, 64, 128) + dense(3 * 3 * 128, 128) + dense(128, 10),
    "m4": conv(3, 1, 32) + conv(3, 32, 32) + conv(3, 32, 64) + conv(3, 64, 128) + bn(32 + 32 + 64 + 128)
    + dense(7 * 7 * 128, 512) + bn(512) + dense(512, 128) + bn(128) + dense(128, 10),
    # ResNet50's 26,560 BN channels stay trainable (gamma, beta) as in the seed; the head is new.
    "resnet50": bn(26_560) + dense(2048, 256) + bn(256) + dense(256, 10),
    "cnn": conv(3, 1, 32) + conv(3, 32, 64) + dense(7 * 7 * 64, 128) + dense(128, 10),
}


def layer_kinds(model) -> list[str]:
    return [type(layer).__name__ for layer in model.layers if type(layer).__name__ != "InputLayer"]


def test_every_variant_is_covered_and_builds_with_expected_params():
    names = [v.name for v in list_variants()]
    assert sorted(names) == sorted(EXPECTED)
    for name in names:
        assert count_params(name) == EXPECTED[name], name


def test_seed004_num_classes_changes_the_output_layer():
    assert count_params("m1", {"num_classes": 5}) == conv(3, 1, 32) + dense(13 * 13 * 32, 64) + dense(64, 5)
    assert build_model("m4", {"num_classes": 5}).output_shape == (None, 5)


def test_grid50k_layers_and_shapes_match_seed001_summary():
    model = build_model("grid50k")
    assert layer_kinds(model) == [
        "Conv2D", "MaxPooling2D", "Conv2D", "Conv2D", "MaxPooling2D", "Conv2D", "Conv2D", "MaxPooling2D",
        "Flatten", "Dense", "Dropout", "Dense", "Dropout", "Dense",
    ]
    shapes = [layer.output.shape[1:] for layer in model.layers[1:]]
    assert shapes[:8] == [(28, 28, 28), (9, 9, 28), (9, 9, 32), (9, 9, 32), (4, 4, 32), (4, 4, 36),
                          (4, 4, 36), (2, 2, 36)]
    per_layer = [layer.count_params() for layer in model.layers[1:] if layer.count_params()]
    assert per_layer == [1400, 8096, 9248, 10404, 11700, 5220, 1184, 330]


def test_grid50k_hyperparameters_reach_the_layers():
    model = build_model("grid50k", {"activation": "sigmoid", "dropout_rate": 0.4, "kernel": 5,
                                    "optimizer": "Adadelta"})
    convs = [layer for layer in model.layers if type(layer).__name__ == "Conv2D"]
    assert convs[0].kernel_size == (7, 7) and convs[1].kernel_size == (5, 5)
    assert all(layer.get_config()["activation"] == "sigmoid" for layer in convs)
    assert [layer.rate for layer in model.layers if type(layer).__name__ == "Dropout"] == [0.4, 0.4]
    assert type(model.optimizer).__name__ == "Adadelta"


def test_datacamp_dropout_layout_matches_seed000_summary():
    model = build_model("datacamp-dropout")
    assert layer_kinds(model) == [
        "Conv2D", "LeakyReLU", "MaxPooling2D", "Dropout", "Conv2D", "LeakyReLU", "MaxPooling2D", "Dropout",
        "Conv2D", "LeakyReLU", "MaxPooling2D", "Dropout", "Flatten", "Dense", "LeakyReLU", "Dropout", "Dense",
    ]
    assert model.get_layer(index=11).output.shape[1:] == (4, 4, 128)
    assert [layer.rate for layer in model.layers if type(layer).__name__ == "Dropout"] == [0.25, 0.25, 0.4, 0.3]
    assert "Dropout" not in layer_kinds(build_model("datacamp"))


def test_seed003_models_differ_as_the_report_describes():
    assert layer_kinds(build_model("2")).count("Dropout") == 2
    assert layer_kinds(build_model("3")).count("BatchNormalization") == 4
    kinds4 = layer_kinds(build_model("4"))
    assert kinds4.count("Conv2D") == 9 and kinds4.count("BatchNormalization") == 9
    assert kinds4[-3:] == ["Dense", "Dense", "Dense"]


def test_m4_has_the_seed004_layer_counts():
    kinds = layer_kinds(build_model("m4"))
    assert (kinds.count("Conv2D"), kinds.count("MaxPooling2D"), kinds.count("BatchNormalization"),
            kinds.count("Dropout")) == (4, 2, 6, 5)


def test_unknown_variant_lists_valid_names():
    with pytest.raises(ConfigError, match="unknown variant 'nonsense'; valid: datacamp, .*grid50k"):
        get_variant("nonsense")


@pytest.mark.parametrize(
    ("variant", "hparams", "message"),
    [
        ("grid50k", {"filters": 3}, "no hyperparameter 'filters'; valid: activation, dropout_rate"),
        ("grid50k", {"dropout_rate": 1.0}, r"'dropout_rate' = 1.0 is not allowed; allowed: a number in \[0, 1\)"),
        ("grid50k", {"activation": "swish"}, "allowed: one of relu, leaky_relu"),
        ("cnn", {"optimizer": "lbfgs"}, "allowed: one of adam, adamw"),
        ("cnn", {"blocks": 9}, "an integer from 1 to 4"),
        ("cnn", {"batch_norm": "maybe"}, "true or false"),
    ],
)
def test_bad_hyperparameters_are_refused(variant, hparams, message):
    with pytest.raises(ConfigError, match=message):
        build_model(variant, hparams)


def test_values_are_normalised():
    hp = get_variant("cnn").resolve({"optimizer": "Nadam", "blocks": "3", "batch_norm": "yes",
                                     "learning_rate": "1e-3"})
    assert (hp["optimizer"], hp["blocks"], hp["batch_norm"], hp["learning_rate"]) == ("nadam", 3, True, 0.001)
    assert get_variant("cnn").resolve({"learning_rate": "none"})["learning_rate"] is None


def test_collapsing_shapes_give_a_clear_error():
    with pytest.raises(ConfigError, match=r"MaxPooling2D .* on a 1x1 feature map leaves nothing"):
        build_model("cnn", {"blocks": 4, "pool": 3})  # 28 -> 9 -> 3 -> 1 -> pooling a 1x1 map
    with pytest.raises(ConfigError, match=r"Conv2D with size \(9, 9\) and padding 'valid' on a 1x1 feature map"):
        build_model("cnn", {"blocks": 3, "padding": "valid", "kernel": 9})  # 28 -> 20 -> 10 -> 2 -> 1 -> conv


def test_resnet50_weights_file_must_exist(tmp_path):
    with pytest.raises(ConfigError, match="'weights': file '.*missing.h5' not found"):
        build_model("resnet50", {"weights": str(tmp_path / "missing.h5")})


def test_resnet50_loads_weights_from_a_local_file(tmp_path):
    import keras
    import numpy as np

    base = keras.applications.ResNet50(include_top=False, weights=None, input_shape=(32, 32, 3))
    path = tmp_path / "resnet50_notop.weights.h5"
    base.save_weights(path)
    model = build_model("resnet50", {"weights": str(path), "num_classes": 5})
    loaded = model.get_layer("resnet50").get_weights()
    assert len(loaded) == len(base.get_weights())
    assert all(np.array_equal(a, b) for a, b in zip(loaded, base.get_weights(), strict=True))
    assert count_params("resnet50", {"num_classes": 5}) == bn(26_560) + dense(2048, 256) + bn(256) + dense(256, 5)
