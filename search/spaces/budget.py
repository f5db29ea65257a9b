"""The trainable-parameter budget: counting configurations and checking a space can meet it.

Counting builds the Keras model without training it (a few hundredths of a
second), so :class:`ParamCounter` caches counts by architecture: trials that
differ only in optimizer, learning rate or dropout rates cost nothing.
:func:`check_feasible` refuses a space none of whose configurations fits
``max_params`` before anything trains.
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from ..records import STATUS_INVALID, STATUS_OVER_BUDGET
from ..zoo import FASHION_SHAPE, DataShape, ParamCount, get_variant, param_count
from .tables import Categorical, FloatRange, IntRange

if TYPE_CHECKING:
    from ..data import Dataset
    from .schema import Space

# Random points probed (besides the corners) when a space has ranges.
PROBES = 32


class BudgetError(ConfigError):
    """No configuration of a space fits its ``max_params``; ``detail`` omits the study name."""

    def __init__(self, study: str, detail: str) -> None:
        super().__init__(f"{study}: {detail}")
        self.detail = detail


class ParamCounter:
    """Parameter counts (trainable and total) by (variant, architecture), computed once each.

    The architecture is the hyperparameters whose declarations say they can
    change the weight count (``changes_params``); the rest share one build.

    A configuration whose shapes collapse raises :class:`ConfigError` every
    time it is asked for, also from the cache.
    """

    def __init__(self, shape: DataShape = FASHION_SHAPE, clear_every: int = 50) -> None:
        self.shape = shape  # the data's: a model's size depends on its input shape and class count
        self._cache: dict[tuple[Any, ...], ParamCount | ConfigError] = {}
        self.builds = 0
        self.clear_every = clear_every

    @classmethod
    def for_dataset(cls, dataset: Dataset) -> ParamCounter:
        """A counter for models of ``dataset``'s image shape and classes."""
        return cls(DataShape(dataset.input_shape, dataset.num_classes))

    def key(self, variant: str, hparams: Mapping[str, Any]) -> tuple[Any, ...]:
        declared = get_variant(variant)
        full = declared.resolve(hparams)
        arch = tuple(sorted((k, v) for k, v in full.items() if declared.space.changes_params(k)))
        return (declared.name, arch)

    def count(self, variant: str, hparams: Mapping[str, Any]) -> ParamCount:
        key = self.key(variant, hparams)
        if key not in self._cache:
            self._cache[key] = self._build(variant, hparams)
        result = self._cache[key]
        if isinstance(result, ConfigError):
            raise ConfigError(str(result))
        return result

    def __len__(self) -> int:
        return len(self._cache)

    def _build(self, variant: str, hparams: Mapping[str, Any]) -> ParamCount | ConfigError:
        self.builds += 1
        if self.builds % self.clear_every == 0:
            import keras

            keras.backend.clear_session()
        try:
            return param_count(variant, dict(hparams), self.shape)
        except ConfigError as exc:
            return exc


@dataclass(frozen=True)
class Verdict:
    """A configuration's size against the budget, decided before it trains.

    ``excess`` (budgeted parameters minus ``max_params``; positive: over) is
    what the sampler's constraint function reads, so TPE can learn where the
    feasible region is; an unbuildable configuration counts as over.
    """

    count: ParamCount | None
    status: str | None  # None: it fits; else records.STATUS_OVER_BUDGET or STATUS_INVALID
    reason: str | None = None
    excess: int = 0

    def attrs(self) -> dict[str, Any]:
        """The trial attributes every engine records for it."""
        out: dict[str, Any] = {"budget_excess": self.excess}
        if self.count is not None:
            out.update(params=self.count.trainable, total_params=self.count.total)
        return out


def check_budget(space: Space, counter: ParamCounter, variant: str, hparams: Mapping[str, Any]) -> Verdict:
    """Count ``variant`` with ``hparams`` (cached) and judge it against the space's ``max_params``."""
    try:
        count = counter.count(variant, hparams)
    except ConfigError as exc:
        return Verdict(None, STATUS_INVALID, str(exc), excess=1)
    budget = space.max_params
    if budget is None:
        return Verdict(count, None)
    used = space.budgeted(count)
    if used > budget:
        return Verdict(count, STATUS_OVER_BUDGET, f"{used:,} {space.budget_counts} params > max_params {budget:,}",
                       excess=used - budget)
    return Verdict(count, None, excess=used - budget)


def counter_for_space(space: Space, data_dir: str | os.PathLike[str] | None = None) -> ParamCounter:
    """A counter for models of the space's data (reading the source once: it is cached for the run)."""
    from ..data.dataset import data_shape

    return ParamCounter(DataShape(*data_shape(space.data_options(), data_dir)))


def check_feasible(space: Space, counter: ParamCounter | None = None) -> None:
    """Raise :class:`BudgetError` if no configuration of ``space`` fits ``max_params``.

    Grid-like spaces are checked exhaustively (each architecture once, stopping
    at the first that fits); spaces with ranges are probed at the all-lows and
    all-highs corners, a "smallest guess" corner and :data:`PROBES` seeded
    random points, which is a heuristic: it can miss a small feasible corner.
    """
    budget = space.max_params
    if budget is None:
        return
    counter = counter if counter is not None else ParamCounter()  # an empty counter is falsy (__len__)
    exhaustive = space.is_grid
    points = space.grid_points() if exhaustive else _probe_points(space)
    smallest: int | None = None
    first_error: str | None = None
    seen: set[tuple[Any, ...]] = set()
    for point in points:
        variant, hparams, _, _ = space.split_params(point)
        try:
            key = counter.key(variant, hparams)
            if key in seen:
                continue
            seen.add(key)
            params = space.budgeted(counter.count(variant, hparams))
        except ConfigError as exc:
            first_error = first_error or str(exc)
            continue
        if params <= budget:
            return
        smallest = params if smallest is None else min(smallest, params)
    if smallest is not None:
        which = "smallest" if exhaustive else f"smallest of the {len(seen)} probed"
        detail = (f"no configuration of the space fits max_params={budget} ({which} has {smallest:,} "
                  f"{space.budget_counts} params)")
    else:
        detail = f"no configuration of the space fits max_params={budget} (none builds: {first_error})"
    raise BudgetError(space.study, detail)


def _probe_points(space: Space) -> list[dict[str, Any]]:
    rng = random.Random(space.seed)
    lows = {k: _extreme(e, low=True) for k, e in space.search.items()}
    highs = {k: _extreme(e, low=False) for k, e in space.search.items()}
    # Bigger pools and strides shrink a model: the smallest guess takes their highs.
    guess = {k: highs[k] if "pool" in k or "stride" in k else lows[k] for k in space.search}
    randoms = [{k: _random(e, rng) for k, e in space.search.items()} for _ in range(PROBES)]
    return [lows, highs, guess, *randoms]


def _extreme(entry: Any, low: bool) -> Any:
    if isinstance(entry, (IntRange, FloatRange)):
        return entry.low if low else entry.high
    values = list(entry.choices) if isinstance(entry, Categorical) else list(entry)
    try:
        return min(values) if low else max(values)
    except TypeError:  # mixed types (e.g. a learning rate list with none): file order
        return values[0] if low else values[-1]


def _random(entry: Any, rng: random.Random) -> Any:
    if isinstance(entry, IntRange):
        if entry.log:
            value = round(math.exp(rng.uniform(math.log(entry.low), math.log(entry.high))))
            return min(max(value, entry.low), entry.high)
        return rng.randrange(entry.low, entry.high + 1, entry.step)
    if isinstance(entry, FloatRange):
        if entry.log:
            return math.exp(rng.uniform(math.log(entry.low), math.log(entry.high)))
        value = rng.uniform(entry.low, entry.high)
        if entry.step:
            value = min(entry.low + round((value - entry.low) / entry.step) * entry.step, entry.high)
        return value
    values = list(entry.choices) if isinstance(entry, Categorical) else list(entry)
    return rng.choice(values)
