"""The development harness's settings: the user benchmarks' fields plus those of its own benchmarks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from search.bench.settings import DEFAULTS, SMALL, BenchSettings
from search.errors import ConfigError

#: ``--small`` for the harness: together, ``python -m benchmarks all --small`` takes minutes on 2 CPU cores.
DEV_SMALL: dict[str, Any] = {
    **SMALL,
    "folds": 2,             # overhead: k of the one-point GridSearchCV
    "n_trials": 10,         # efficiency: finished Optuna trials (over-budget ones count, as in the engine)
    "startup_repeats": 2,   # startup: fresh interpreters per measurement (each costs a TensorFlow import)
}

#: Without ``--small``.
DEV_DEFAULTS: dict[str, Any] = {**DEFAULTS, "folds": 3, "n_trials": 30, "startup_repeats": 3}


@dataclass(frozen=True)
class DevSettings(BenchSettings):
    """:class:`~search.bench.settings.BenchSettings` plus the harness's fields.

    ``variant`` is the zoo variant ``overhead`` and ``options`` time;
    ``optuna_space``/``grid_space`` the files ``efficiency`` compares
    (default: the checkout's ``spaces/budget50k.toml`` and
    ``spaces/seed001-grid.toml``); ``verbose`` shows each search's progress.
    """

    SMALL_PRESET: ClassVar[dict[str, Any]] = DEV_SMALL
    DEFAULT_PRESET: ClassVar[dict[str, Any]] = DEV_DEFAULTS
    COUNTS: ClassVar[tuple[str, ...]] = (*BenchSettings.COUNTS, "folds", "n_trials", "startup_repeats")

    variant: str = "cnn"
    folds: int = DEV_DEFAULTS["folds"]
    n_trials: int = DEV_DEFAULTS["n_trials"]
    startup_repeats: int = DEV_DEFAULTS["startup_repeats"]
    optuna_space: Path | None = None
    grid_space: Path | None = None
    verbose: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.folds < 2:
            raise ConfigError(f"folds must be at least 2, got {self.folds}")
