"""The best-params handoff: a self-contained spec a final training run consumes.

The seed reports copied the winning parameters by hand into a final run. A
``best.json`` carries everything that run needs (variant, every
hyperparameter, epochs, batch size, data options, seed) plus where it came
from, and is validated on the way back in, so a hand edit that no longer
describes a buildable model is caught before training.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import optuna
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .data import DataOptions, DataSettings
from .data.dataset import data_shape
from .errors import ConfigError
from .fileio import write_json
from .reports.leaderboard import leaderboard
from .runtime import package_versions
from .settings import SettingError, unwrap
from .spaces import Space
from .storages import mask_url
from .training import FitOptions
from .zoo import DataShape, count_params, get_variant
from .zoo.builders import check_unchanged

if TYPE_CHECKING:
    from .training import TrainConfig

FORMAT = "cnn-search/best-params"


class BestSpec(BaseModel):
    """What ``best.json`` holds; ``train --from`` accepts nothing less."""

    model_config = ConfigDict(extra="forbid")
    format: Literal["cnn-search/best-params"] = FORMAT
    version: Literal[1] = 1
    variant: str
    hparams: dict[str, Any]
    epochs: int = Field(ge=1)
    batch_size: int = Field(ge=1)
    optimizer: dict[str, Any]
    data: DataSettings
    seed: int = Field(ge=0)
    split_seed: int | None = Field(None, ge=0)  # the search's data split (None: a spec from before; = seed)
    training: FitOptions = FitOptions()  # compile, precision, early stopping (defaults when absent)
    params: int = Field(ge=1)
    builder: dict[str, Any] | None = None  # a user builder's reference and the sha256 of its file
    metrics: dict[str, Any] = {}
    source: dict[str, Any] = {}
    versions: dict[str, str] = {}
    created_at: str = ""


#: Selection metrics computed on the test set: choosing by them makes the test score optimistic.
TEST_METRICS = ("test_accuracy", "test_loss")


def best_spec(study: optuna.Study, *, metric: str = "val_accuracy", storage_url: str | None = None,
              allow_test_set_leak: bool = False) -> BestSpec:
    """The spec of the study's best configuration by ``metric``.

    The test set only reports: choosing by a test metric is refused unless the
    caller says, with ``allow_test_set_leak``, that it knows the chosen
    model's test score is then no longer an unbiased estimate (the spec
    records that it was chosen so).
    """
    if metric in TEST_METRICS and not allow_test_set_leak:
        raise ConfigError(f"--metric {metric} would choose the model on the test set, which then no longer "
                          "measures it; choose by val_accuracy or val_loss, or pass --allow-test-set-leak")
    board = leaderboard(study, metric=metric)
    ranked = board[board["rank"].notna()] if not board.empty else board
    if ranked.empty:
        raise ConfigError(f"study '{study.study_name}' has no complete trial yet; nothing to hand off")
    trial = study.trials[int(ranked.iloc[0]["trial"])]
    space = Space.from_record(study.user_attrs["space"])
    variant, hparams, epochs, batch_size = space.split_params(trial.params)
    declared = get_variant(variant)
    full = declared.resolve(hparams)
    attrs = trial.user_attrs
    return BestSpec(
        variant=variant, hparams=declared.space.used(full), epochs=epochs, batch_size=batch_size,
        optimizer={"name": full.get("optimizer"), "learning_rate": full.get("learning_rate")},
        data=space.data,
        seed=(attrs.get("seeds") or [space.seed])[0], split_seed=space.data_options().seed,
        training=space.fit_options(), params=attrs["params"],
        builder=declared.builder.record() if declared.builder is not None else None,
        metrics={k: attrs.get(k) for k in ("val_accuracy", "val_accuracy_std", "val_loss", "test_accuracy",
                                           "test_accuracy_std", "test_loss", "n", "kept_epochs",
                                           "training_time_s", "image_epochs", "total_params")},
        source={"study": study.study_name, "trial": trial.number, "metric": metric,
                "chosen_on_test_set": metric in TEST_METRICS,
                "engine": attrs.get("engine"), "validation": space.validation.method,
                "storage": mask_url(storage_url) if storage_url else None},
        versions=package_versions(),
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )


def differences(spec: BestSpec, config: TrainConfig) -> str | None:
    """One line on what a run from ``spec`` does differently from the trial it was chosen from (None: nothing)."""
    trial, now = spec.data, config.data
    parts = []
    if config.full_train:
        parts.append("fits on train + validation together (no validation split)")
    if now.subset != trial.subset:
        parts.append(f"trains on {_images(now.subset)} where the trial used {_images(trial.subset)}")
    if now.test_subset != trial.test_subset:
        parts.append(f"is scored on {_images(now.test_subset, 'test')} where the trial used "
                     f"{_images(trial.test_subset, 'test')}")
    if not parts:
        return None
    return f"this run {', '.join(parts)}; epochs, seed and hyperparameters are the trial's"


def _images(n: int | None, kind: str = "training") -> str:
    return f"every {kind} image" if n is None else f"a stratified subset of {n:,} {kind} images"


def write_best(spec: BestSpec, path: str | Path) -> Path:
    write_json(path, spec.model_dump(mode="json"))
    return Path(path)


def load_best(path: str | Path) -> BestSpec:
    """Read and re-validate a spec; any problem is one line naming the file and field."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc})") from None
    try:
        spec = BestSpec.model_validate(data)
    except ValidationError as exc:
        err = unwrap(exc.errors()[0])  # a nested setting's own error, under its key
        raise ConfigError(f"{path}: {'.'.join(str(p) for p in err['loc']) or 'top level'}: {err['msg']}") from None
    try:
        _check_model(spec)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return spec


def _check_model(spec: BestSpec) -> None:
    if spec.builder:
        check_unchanged(spec.builder, "this best.json")
    variant = get_variant(spec.variant)
    resolved = variant.resolve(spec.hparams)
    missing = sorted(n for n in set(variant.space.names()) - set(spec.hparams)
                     if variant.space.params[n].is_used(resolved))
    if missing:
        raise ConfigError(f"hparams: missing {', '.join(missing)} (the spec must list every hyperparameter its "
                          "configuration uses)")
    params = count_params(spec.variant, resolved, DataShape(*data_shape(_data_options(spec))))
    if params != spec.params:
        raise ConfigError(f"params: the spec says {spec.params:,} but these hyperparameters build a model "
                          f"with {params:,}; was the file edited?")
    _data_options(spec)


def _data_options(spec: BestSpec) -> DataOptions:
    """The spec's data settings on the classes its model outputs (the split seed is the run's to set)."""
    try:
        return spec.data.options(num_classes=get_variant(spec.variant).num_classes(spec.hparams))
    except SettingError as exc:
        raise SettingError(("data", *exc.loc), exc.detail) from None


def train_config(spec: BestSpec, *, full_train: bool = False, subset: int | None = None) -> TrainConfig:
    """The exact configuration of the spec; with ``full_train``, the final run a search is for.

    Without ``full_train`` it retrains the trial as it ran (its subset, its
    validation split), so its figures can be checked against the study's. A
    final run (``full_train``) fits on every training image of the source,
    train and validation together, and is scored on the whole test set: the
    search's ``subset`` and ``test_subset`` made trials fast, they are not
    what the user means the model to learn from. ``subset`` asks for a
    stratified subset of that many images instead.
    """
    from .training import TrainConfig  # Keras: only when a run is configured, not to write best.json

    data = _data_options(spec)
    if full_train or subset is not None:
        data = data.replace(subset=subset, test_subset=None if full_train else data.test_subset)
    split = spec.seed if spec.split_seed is None else spec.split_seed  # older specs: the search split by its seed
    return TrainConfig(spec.variant, spec.hparams, epochs=spec.epochs, batch_size=spec.batch_size, seed=spec.seed,
                       split_seed=split, data=data, full_train=full_train, fit=spec.training)

