"""The tables a search-space file is made of: ``[search]`` entries and the sub-tables.

Each is a strict pydantic model (unknown keys are errors). ``[data]`` and
``[training]`` are the data and training packages' own settings models, so a
space, ``cnn-search train`` and ``best.json`` share one declaration of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from ..data.settings import DataSettings
from ..settings import PositiveInt, StrictBool, StrictFloat, StrictInt
from ..training.settings import TrainingSettings


class Strict(BaseModel):
    """A table of a space file: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


# --- [search] entries --------------------------------------------------------------------------


# ``when = {name = [values]}`` on a table entry: sample it only when every named hyperparameter
# (searched earlier in the file, fixed, or the variant's default) has one of the listed values;
# otherwise it is not sampled at all and keeps its default. TPE then models it only where it matters.
Condition = dict[str, list[Any]] | None


class IntRange(Strict):
    """``{type = "int", low, high, step = 1, log = false}``: integers in ``[low, high]``."""

    type: Literal["int"]
    low: StrictInt
    high: StrictInt
    step: PositiveInt = 1
    log: StrictBool = False
    when: Condition = None


class FloatRange(Strict):
    """``{type = "float", low, high, log = false, step}``: reals in ``[low, high]``."""

    type: Literal["float"]
    low: StrictFloat
    high: StrictFloat
    log: StrictBool = False
    step: Annotated[float, Field(strict=True, gt=0)] | None = None
    when: Condition = None


class Categorical(Strict):
    """``{type = "categorical", choices = [...]}``: the same as a plain list (which cannot take ``when``)."""

    type: Literal["categorical"]
    choices: list[Any]
    when: Condition = None


ENTRY_HELP = 'a list of values or a table with type = "int", "float" or "categorical"'


def _entry_tag(value: Any) -> str | None:
    if isinstance(value, list):
        return "list"
    if isinstance(value, Mapping):
        tag = value.get("type")
        return tag if tag in ("int", "float", "categorical") else None
    if isinstance(value, (IntRange, FloatRange, Categorical)):
        return value.type
    return None


ENTRY_TAGS = ("list", "int", "float", "categorical")

SearchEntry = Annotated[
    Annotated[list[Any], Tag("list")]
    | Annotated[IntRange, Tag("int")]
    | Annotated[FloatRange, Tag("float")]
    | Annotated[Categorical, Tag("categorical")],
    Discriminator(_entry_tag, custom_error_type="search_entry",
                  custom_error_message=f"a [search] entry must be {ENTRY_HELP}"),
]


# --- sub-tables ----------------------------------------------------------------------------------


class OptunaSettings(Strict):
    """``[optuna]``: sampler, pruner and stopping rule (ignored by engine "grid")."""

    sampler: Literal["tpe", "random", "grid", "cmaes", "qmc"] = "tpe"
    pruner: Literal["none", "median", "hyperband", "successive-halving"] = "none"
    n_trials: PositiveInt | None = None
    timeout: Annotated[float, Field(strict=True, gt=0)] | None = None
    # TPE: random trials before the model takes over, and a joint (multivariate, grouped) density
    # that handles conditional entries, instead of one independent density per hyperparameter.
    n_startup_trials: Annotated[int, Field(strict=True, ge=0)] = 10
    multivariate: StrictBool = False
    # Tell TPE the budget (params - max_params <= 0) as a constraint, so it learns where the
    # feasible region is, rather than only seeing over-budget trials as pruned.
    budget_constraint: StrictBool = False
    # Hyperband / successive halving: the fewest epochs a trial runs before it can be stopped.
    min_epochs: PositiveInt = 1
    # A compute budget: no trial starts once the study's trials have trained this many images x epochs
    # (pruned trials' partial epochs included); the trials running then finish.
    max_image_epochs: PositiveInt | None = None


class ValidationSettings(Strict):
    """``[validation]``: how each configuration is scored."""

    method: Literal["holdout", "kfold"] = "holdout"
    folds: Annotated[int, Field(strict=True, ge=2, le=20)] = 3
    repeats: Annotated[int, Field(strict=True, ge=1, le=20)] = 1
    evaluate_test: StrictBool = True


class RecoverySettings(Strict):
    """``[recovery]``: what happens to a trial whose worker dies or hangs (how to run, not what is searched).

    ``max_retries`` counts deaths only (a killed worker, a hung trial); an
    interrupted trial (Ctrl-C, SIGTERM) is always queued again. ``trial_timeout``
    is a wall-clock limit per trial, in seconds: past it the trial is failed
    with the reason and its worker process is replaced.
    """

    max_retries: Annotated[int, Field(strict=True, ge=0, le=100)] = 1
    trial_timeout: Annotated[float, Field(strict=True, gt=0)] | None = None


class VariantSettings(Strict):
    """``[per_variant.NAME]``: training settings one variant of a comparison runs with instead of the file's.

    Seed 004 trained each model at its own epochs and batch size (50/512,
    50/256, 30/256); a comparison that reruns it must too, without making
    epochs x batch size a grid dimension every variant runs.
    """

    epochs: PositiveInt | None = None
    batch_size: PositiveInt | None = None


#: The model of each sub-table, by its name in the file (for "unknown key; allowed: ..." messages).
SECTIONS: dict[str, type[BaseModel]] = {"optuna": OptunaSettings, "validation": ValidationSettings,
                                        "data": DataSettings, "training": TrainingSettings}
#: The model of each tagged [search] entry.
ENTRIES: dict[str, type[BaseModel]] = {"int": IntRange, "float": FloatRange, "categorical": Categorical}
