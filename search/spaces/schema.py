"""The search-space file format: one TOML file describes one batch job.

The models here validate a space completely before anything trains: every
key must be known, every value (fixed, in a grid list, a categorical choice,
a range's bounds) must be one the variant's hyperparameter declaration
allows, and the engine/sampler combination must be able to run. A failed
check is raised as a ``ValueError`` subclass that carries the location of the
offending key, so the loader can point at it in its one-line message.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from ..data.settings import DataOptions, DataSettings
from ..errors import ConfigError
from ..settings import PositiveInt, SettingError
from ..training.settings import FitOptions, TrainingSettings
from ..zoo import OPTIMIZERS, Float, HParam, Int, ParamCount, Variant, get_variant, list_variants, variant_name
from .messages import SpaceError, validate_model
from .tables import (
    Categorical,
    FloatRange,
    IntRange,
    OptunaSettings,
    RecoverySettings,
    SearchEntry,
    Strict,
    ValidationSettings,
    VariantSettings,
)

if TYPE_CHECKING:
    import optuna

# Names [search] takes besides the variant's hyperparameters; they are training settings.
TRAINING_KEYS = ("epochs", "batch_size")
# The dimension a comparison of several variants searches over.
VARIANT_KEY = "variant"
# Hyperparameters that change the dataset rather than the model: one value per study.
DATASET_KEYS = ("num_classes",)
# [fixed] may give this one as a table of rates per optimizer.
RATE_KEY = "learning_rate"
# Where in a space file the data options a run adds come from (the rest are [data]'s own keys).
_DATA_LOCS: dict[str, tuple[str, ...]] = {"seed": ("seed",), "num_classes": ("fixed", "num_classes")}


# --- the space -----------------------------------------------------------------------------------


class Space(Strict):
    """One validated search-space file."""

    study: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
    variant: str | None = None
    variants: list[str] | None = None
    engine: Literal["grid", "optuna"] = "optuna"
    seed: Annotated[int, Field(strict=True, ge=0)] = 0
    max_params: PositiveInt | None = None
    budget_counts: Literal["trainable", "total"] = "trainable"  # which parameters max_params bounds
    epochs: PositiveInt = 10
    batch_size: PositiveInt = 64
    n_jobs: PositiveInt = 1
    fixed: dict[str, Any] = Field(default_factory=dict)
    search: dict[str, SearchEntry] = Field(default_factory=dict)
    per_variant: dict[str, VariantSettings] = Field(default_factory=dict)
    optuna: OptunaSettings = Field(default_factory=OptunaSettings)
    validation: ValidationSettings = Field(default_factory=ValidationSettings)
    data: DataSettings = Field(default_factory=DataSettings)
    training: TrainingSettings = Field(default_factory=TrainingSettings)
    recovery: RecoverySettings = Field(default_factory=RecoverySettings)

    # -- validation --------------------------------------------------------------------------------

    @field_validator("variant", mode="before")
    @classmethod
    def _callable_variant(cls, value: Any) -> Any:
        """A builder passed from Python (not from a file): recorded under the name it registers as."""
        return variant_name(value) if callable(value) else value

    @field_validator("variants", mode="before")
    @classmethod
    def _callable_variants(cls, value: Any) -> Any:
        return [variant_name(v) if callable(v) else v for v in value] if isinstance(value, list) else value

    @model_validator(mode="after")
    def _check(self) -> Space:
        variants = self._check_variants()
        self.fixed = {key: self._check_fixed(variants, key, value) for key, value in self.fixed.items()}
        self.search = {key: self._check_search(variants, key, entry) for key, entry in self.search.items()}
        self._check_per_variant()
        self._check_engine()
        self._check_data()
        return self

    def _check_variants(self) -> list[Variant]:
        valid = ", ".join(v.name for v in list_variants())
        if self.variant is None and self.variants is None:
            raise SpaceError(("variant",), 'give variant = "NAME" (one zoo variant) or variants = [...] '
                                          f"(a comparison of several); valid variants: {valid}")
        if self.variant is not None and self.variants is not None:
            raise SpaceError(("variants",), "give either variant (one variant, searched) or variants "
                                            "(a comparison of several), not both")
        if self.variant is not None:
            variant = _variant(("variant",), self.variant)
            self.variant = variant.name  # a builder reference as its absolute form, which workers import
            return [variant]
        names = list(self.variants or [])
        if not names:
            raise SpaceError(("variants",), f"empty list; name at least one variant; valid: {valid}")
        for name in names:
            if names.count(name) > 1:
                raise SpaceError(("variants",), f"variant '{name}' is listed twice")
        if self.engine != "optuna" or self.optuna.sampler != "grid":
            got = f'engine = "{self.engine}"' + (f', sampler = "{self.optuna.sampler}"'
                                                 if self.engine == "optuna" else "")
            raise SpaceError(("variants",), 'a comparison of variants runs as a grid: use engine = "optuna" '
                                            f'with [optuna] sampler = "grid" (got {got})')
        variants = [_variant(("variants",), name) for name in names]
        self.variants = [v.name for v in variants]
        return variants

    def _owners(self, variants: list[Variant], section: str, key: str) -> list[Variant]:
        """The variants that declare ``key``; a key none of them declares is an error."""
        owners = [v for v in variants if key in v.space.params]
        if owners:
            return owners
        valid = ", ".join(dict.fromkeys(n for v in variants for n in v.space.params)) or "(none)"
        extra = f"; [search] also takes {', '.join(TRAINING_KEYS)}" if section == "search" else ""
        who = f"variant '{variants[0].name}' has" if len(variants) == 1 else "none of the variants has"
        raise SpaceError((section, key), f"{who} no hyperparameter '{key}'; valid: {valid}{extra}")

    def _check_fixed(self, variants: list[Variant], key: str, value: Any) -> Any:
        if key in self.search:
            raise SpaceError(("search", key), f"'{key}' is in both [fixed] and [search]; keep it in one")
        if key == RATE_KEY and isinstance(value, Mapping):
            return self._check_rates(variants, value)
        normalised = value
        for owner in self._owners(variants, "fixed", key):
            normalised = _validate(("fixed", key), owner.space.params[key], key, value)
        return normalised

    def _check_rates(self, variants: list[Variant], rates: Mapping[str, Any]) -> dict[str, float]:
        """``learning_rate = {adadelta = 1.0, nadam = 0.002}``: a rate per optimizer (others: the default)."""
        spec = self._owners(variants, "fixed", RATE_KEY)[0].space.params[RATE_KEY]
        out: dict[str, float] = {}
        for name, rate in rates.items():
            loc = ("fixed", RATE_KEY, name)
            if str(name).lower() not in OPTIMIZERS:
                raise SpaceError(loc, f"'{name}' is not an optimizer; a per-optimizer learning_rate table takes "
                                      f"{', '.join(OPTIMIZERS)}")
            value = _validate(loc, spec, RATE_KEY, rate)
            if value is None:
                raise SpaceError(loc, "give a number (leave an optimizer out to keep its default rate)")
            out[str(name).lower()] = value
        return out

    def _check_search(self, variants: list[Variant], key: str, entry: Any) -> Any:
        loc = ("search", key)
        if key in TRAINING_KEYS:
            return _check_entry(loc, key, entry, _PositiveCount())
        if key in DATASET_KEYS:
            raise SpaceError(loc, f"'{key}' changes the dataset, so it cannot vary within a study; "
                                  "set it in [fixed]")
        owners = self._owners(variants, "search", key)
        if len(variants) > 1 and len(owners) < len(variants):
            missing = ", ".join(v.name for v in variants if v not in owners)
            raise SpaceError(loc, f"in a comparison every variant must have a searched hyperparameter; "
                                  f"'{key}' is not one of {missing}'s (put it in [fixed] instead)")
        for owner in owners:
            entry = _check_entry(loc, key, entry, owner.space.params[key])
        if getattr(entry, "when", None):
            entry = entry.model_copy(update={"when": self._check_when(variants, key, entry.when)})
        return entry

    def _check_when(self, variants: list[Variant], key: str, when: dict[str, list[Any]]) -> dict[str, list[Any]]:
        """A condition may only name hyperparameters known before ``key`` is sampled."""
        earlier = list(self.search)[: list(self.search).index(key)]
        out: dict[str, list[Any]] = {}
        for name, values in when.items():
            loc = ("search", key, "when", name)
            if name == key or (name in self.search and name not in earlier):
                raise SpaceError(loc, f"'{key}' can only depend on hyperparameters listed before it in [search] "
                                      "(or fixed ones)")
            if not values:
                raise SpaceError(loc, "give at least one value")
            spec = self._owners(variants, "search", name)[0].space.params[name] if name not in TRAINING_KEYS \
                else _PositiveCount()
            out[name] = [_validate(loc, spec, name, v) for v in values]
        return out

    def _check_per_variant(self) -> None:
        for name, settings in self.per_variant.items():
            if self.variants is None:
                raise SpaceError(("per_variant", name), "per_variant is for a comparison of variants "
                                 "(variants = [...]); with one variant set epochs and batch_size at the top")
            if name not in self.variants:
                raise SpaceError(("per_variant", name), f"'{name}' is not one of the compared variants "
                                 f"({', '.join(self.variants)})")
            for key in TRAINING_KEYS:
                if getattr(settings, key) is not None and key in self.search:
                    raise SpaceError(("per_variant", name, key), f"'{key}' is also in [search]; a variant's "
                                     "own value would hide the searched one, so keep it in one place")

    def _check_engine(self) -> None:
        if not self.search and self.variants is None:
            raise SpaceError(("search",), "nothing to search: add at least one hyperparameter to [search]")
        if self.engine == "grid":
            self._require_lists('engine = "grid"')
            method = self.validation.method
            if method != "kfold":
                if "method" in self.validation.model_fields_set:
                    raise SpaceError(("validation", "method"), 'engine = "grid" cross-validates with '
                                     'GridSearchCV, so method must be "kfold" (got "holdout"); '
                                     'for a holdout split use engine = "optuna" with sampler = "grid"')
                # Not given: GridSearchCV's only method is the default.
                self.validation = self.validation.model_copy(update={"method": "kfold"})
            if self.training.early_stopping_patience is not None:
                raise SpaceError(("training", "early_stopping_patience"), 'engine = "grid" fits each fold '
                                 "without a validation split to watch, so it cannot stop early; use "
                                 'engine = "optuna" with sampler = "grid"')
            if self.validation.repeats != 1:
                raise SpaceError(("validation", "repeats"), 'engine = "grid" scores each point by its '
                                 'k folds with one seed, so repeats must be 1; for repeated seeds use '
                                 'engine = "optuna" with sampler = "grid"')
            return
        if self.n_jobs != 1:
            raise SpaceError(("n_jobs",), 'n_jobs is used by engine = "grid" (GridSearchCV) only; '
                                          'remove it or set it to 1')
        if self.optuna.sampler == "grid":
            self._require_lists('sampler = "grid"')
        elif self.optuna.n_trials is None and self.optuna.timeout is None:
            raise SpaceError(("optuna",), f'sampler "{self.optuna.sampler}" needs a stopping rule: set '
                                          "n_trials or timeout (seconds) under [optuna]")

    def _require_lists(self, what: str) -> None:
        for key, entry in self.search.items():
            if getattr(entry, "when", None):
                raise SpaceError(("search", key, "when"), f"{what} runs every combination, so entries cannot "
                                 "be conditional; remove 'when' or use a sampler such as \"tpe\"")
            if isinstance(entry, (IntRange, FloatRange)):
                article = "an" if entry.type == "int" else "a"
                raise SpaceError(("search", key), f"{what} needs a list of values for every [search] entry; "
                                 f"'{key}' is {article} {entry.type} range (list its values, or use "
                                 'engine = "optuna" with a sampler such as "tpe")')

    def _check_data(self) -> None:
        """The rules [data] shares with the run's seed and classes (``subset`` keeps 10 per class)."""
        try:
            self.data_options()
        except SettingError as exc:
            field = str(exc.loc[0]) if exc.loc else ""
            raise SpaceError(_DATA_LOCS.get(field, ("data", *exc.loc)), exc.detail) from None

    # -- what the engines ask ---------------------------------------------------------------------

    @property
    def is_grid(self) -> bool:
        """True when the space is searched exhaustively (engine grid, sampler grid, variants)."""
        return self.engine == "grid" or self.optuna.sampler == "grid"

    def variant_names(self) -> list[str]:
        return list(self.variants) if self.variants is not None else [str(self.variant)]

    def builders(self) -> dict[str, dict[str, Any]]:
        """The user builders the space names, with the sha256 of their files (what a study records)."""
        found = (get_variant(name) for name in self.variant_names())
        return {v.name: v.builder.record() for v in found if v.builder is not None}

    def data_options(self) -> DataOptions:
        """[data] for this space's runs: split by the space's seed, on the classes [fixed] keeps."""
        kept = self.fixed.get("num_classes")
        return self.data.options(seed=self.seed, num_classes=None if kept is None else int(kept))

    def fit_options(self) -> FitOptions:
        """[training]: the one declaration of the fit settings, as every run of the space uses them."""
        return self.training

    def hparam_keys(self) -> list[str]:
        """The searched names, in order (``variant`` first in a comparison of variants)."""
        return ([VARIANT_KEY] if self.variants is not None else []) + list(self.search)

    def grid_search_space(self) -> dict[str, list]:
        """Every searched name with its list of values (for GridSampler and GridSearchCV)."""
        out: dict[str, list] = {VARIANT_KEY: list(self.variants)} if self.variants is not None else {}
        for key, entry in self.search.items():
            values = _values(entry)
            if values is None:
                raise ConfigError(f"study '{self.study}': '{key}' is a range, so the space is not a grid")
            out[key] = values
        return out

    def grid_points(self) -> list[dict[str, Any]]:
        """The cartesian product of the grid, first key outermost, in file order."""
        grid = self.grid_search_space()
        keys = list(grid)
        return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(grid[k] for k in keys))]

    def optuna_search_space(self) -> dict[str, optuna.distributions.BaseDistribution]:
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        out: dict[str, Any] = {}
        if self.variants is not None:
            out[VARIANT_KEY] = CategoricalDistribution(list(self.variants))
        for key, entry in self.search.items():
            if isinstance(entry, IntRange):
                out[key] = IntDistribution(entry.low, entry.high, log=entry.log, step=entry.step)
            elif isinstance(entry, FloatRange):
                out[key] = FloatDistribution(entry.low, entry.high, log=entry.log, step=entry.step)
            else:
                out[key] = CategoricalDistribution(_values(entry))
        return out

    def suggest(self, trial: optuna.Trial) -> dict[str, Any]:
        """Sample every searched name whose condition holds with the matching ``trial.suggest_*`` call."""
        point: dict[str, Any] = {}
        if self.variants is not None:
            point[VARIANT_KEY] = trial.suggest_categorical(VARIANT_KEY, list(self.variants))
        for key, entry in self.search.items():
            if not self.applies(entry, point):
                continue
            if isinstance(entry, IntRange):
                point[key] = trial.suggest_int(key, entry.low, entry.high, step=entry.step, log=entry.log)
            elif isinstance(entry, FloatRange):
                point[key] = trial.suggest_float(key, entry.low, entry.high, step=entry.step, log=entry.log)
            else:
                point[key] = trial.suggest_categorical(key, _values(entry))
        return point

    def applies(self, entry: Any, point: Mapping[str, Any]) -> bool:
        """Whether a (possibly conditional) entry is sampled, given the values chosen so far."""
        when = getattr(entry, "when", None)
        if not when:
            return True
        return all(self.value_of(name, point) in values for name, values in when.items())

    def value_of(self, name: str, point: Mapping[str, Any]) -> Any:
        """A hyperparameter's value at ``point``: sampled, else fixed, else the variant's default."""
        if name in point:
            return point[name]
        if name in self.fixed:
            return self.fixed[name]
        variant_name = str(point.get(VARIANT_KEY, self.variant_names()[0]))
        if name in TRAINING_KEYS:
            return self.training_setting(variant_name, name)
        return get_variant(variant_name).space.params[name].default

    def training_setting(self, variant: str, key: str) -> int:
        """``epochs`` or ``batch_size`` of ``variant`` when not searched: its [per_variant] value, else the file's."""
        own = getattr(self.per_variant.get(variant), key, None) if variant in self.per_variant else None
        return int(own if own is not None else getattr(self, key))

    def split_params(self, point: Mapping[str, Any]) -> tuple[str, dict[str, Any], int, int]:
        """(variant, model hyperparameter overrides, epochs, batch size) of one point.

        A per-optimizer ``learning_rate`` table in [fixed] becomes the rate of the
        point's optimizer (none, the default, for an optimizer it does not list).
        """
        name = str(point.get(VARIANT_KEY, self.variant if self.variant is not None else self.variant_names()[0]))
        declared = get_variant(name).space.params
        hparams = {k: v for k, v in self.fixed.items() if k in declared}
        hparams.update({k: v for k, v in point.items() if k in declared and k not in (*TRAINING_KEYS, VARIANT_KEY)})
        if isinstance(hparams.get(RATE_KEY), Mapping):
            hparams[RATE_KEY] = hparams[RATE_KEY].get(self.value_of("optimizer", {**point, VARIANT_KEY: name}))
        return (name, hparams, int(point.get("epochs", self.training_setting(name, "epochs"))),
                int(point.get("batch_size", self.training_setting(name, "batch_size"))))

    def budgeted(self, count: ParamCount) -> int:
        """The count ``max_params`` bounds: trainable parameters (as the seeds counted) or all of them."""
        return count.trainable if self.budget_counts == "trainable" else count.total

    def with_overrides(self, *, study: str | None = None, n_trials: int | None = None,
                       timeout: float | None = None, subset: int | None = None,
                       epochs: int | None = None, test_subset: int | None = None,
                       max_retries: int | None = None, trial_timeout: float | None = None,
                       data: Mapping[str, Any] | None = None) -> Space:
        """A validated copy with command-line values in place of the file's (None keeps the file's)."""
        record = self.to_record()
        if study is not None:
            record["study"] = study
        if n_trials is not None:
            record["optuna"]["n_trials"] = n_trials
        if timeout is not None:
            record["optuna"]["timeout"] = timeout
        if subset is not None:
            record["data"]["subset"] = subset
        if test_subset is not None:
            record["data"]["test_subset"] = test_subset
        if data:  # another source: its own path and folder options, none of the file's
            record["data"].update({"path": None, "image_size": None, "color_mode": None, **data})
        if max_retries is not None:
            record["recovery"]["max_retries"] = max_retries
        if trial_timeout is not None:
            record["recovery"]["trial_timeout"] = trial_timeout
        if epochs is not None:  # every run's epochs, a variant's own included
            record["epochs"] = epochs
            record["search"].pop("epochs", None)
            for settings in record["per_variant"].values():
                settings["epochs"] = None
        return validate_model(Space, record, source="command line")

    def to_record(self) -> dict[str, Any]:
        """A JSON-able dump that :meth:`from_record` turns back into an equal space."""
        return self.model_dump(mode="json")

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Space:
        return validate_model(Space, record, source="stored space")


# --- helpers -------------------------------------------------------------------------------------


class _PositiveCount(HParam):
    """``epochs`` and ``batch_size`` in [search]: positive integers."""

    default = 1
    doc = "a training setting"

    def validate(self, name: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self._reject(name, value)
        return value

    def allowed(self) -> str:
        return "a positive integer"


def _variant(loc: tuple[str, ...], name: Any) -> Variant:
    try:
        return get_variant(str(name))
    except ConfigError as exc:
        raise SpaceError(loc, str(exc)) from None


def _validate(loc: tuple[str | int, ...], spec: HParam, key: str, value: Any) -> Any:
    try:
        return spec.validate(key, value)
    except ConfigError as exc:
        raise SpaceError(loc, str(exc)) from None


def _values(entry: Any) -> list[Any] | None:
    if isinstance(entry, list):
        return list(entry)
    if isinstance(entry, Categorical):
        return list(entry.choices)
    return None


def _check_values(loc: tuple[str, ...], key: str, values: list[Any], spec: HParam) -> list[Any]:
    if not values:
        raise SpaceError(loc, f"empty grid: give '{key}' at least one value ({spec.allowed()})")
    out: list[Any] = []
    for value in values:
        normalised = _validate(loc, spec, key, value)
        if any(type(normalised) is type(seen) and normalised == seen for seen in out):
            raise SpaceError(loc, f"'{key}' lists the value {normalised!r} twice")
        out.append(normalised)
    return out


def _check_entry(loc: tuple[str, ...], key: str, entry: Any, spec: HParam) -> Any:
    if isinstance(entry, list):
        return _check_values(loc, key, entry, spec)
    if isinstance(entry, Categorical):
        return entry.model_copy(update={"choices": _check_values(loc, key, entry.choices, spec)})
    is_int = isinstance(spec, (Int, _PositiveCount))
    if isinstance(entry, FloatRange) and not isinstance(spec, Float):
        hint = 'type = "int"' if is_int else 'a list of values or type = "categorical"'
        raise SpaceError(loc, f"'{key}' takes {spec.allowed()}, so a float range does not fit; use {hint}")
    if isinstance(entry, IntRange) and not is_int:
        hint = 'type = "float"' if isinstance(spec, Float) else 'a list of values or type = "categorical"'
        raise SpaceError(loc, f"'{key}' takes {spec.allowed()}, so an int range does not fit; use {hint}")
    low = _validate(loc, spec, key, entry.low)
    high = _validate(loc, spec, key, entry.high)
    if low is None or high is None:
        raise SpaceError(loc, f"a range for '{key}' needs numeric low and high")
    if not low < high:
        raise SpaceError(loc, f"low ({entry.low}) must be less than high ({entry.high})")
    if entry.log and low <= 0:
        raise SpaceError(loc, f"log = true needs low > 0 (got low = {entry.low})")
    if isinstance(entry, IntRange) and entry.log and entry.step != 1:
        raise SpaceError(loc, "log = true needs step = 1 for an int range")
    if isinstance(entry, FloatRange) and entry.log and entry.step is not None:
        raise SpaceError(loc, "a float range takes log = true or a step, not both")
    if isinstance(entry, FloatRange) and entry.step is not None and not math.isfinite(entry.step):
        raise SpaceError(loc, "step must be a finite number")
    return entry.model_copy(update={"low": low, "high": high})
