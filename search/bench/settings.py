"""What a benchmark run is asked to do, validated before anything is timed.

Every benchmark takes one :class:`BenchSettings`. Values are checked at
construction, so a typo fails in a second with one line instead of after ten
minutes of training, and the ``--small`` preset is a plain dictionary that a
user can read (and override field by field) rather than logic hidden in the
command line. The development harness (``benchmarks/`` in a checkout)
extends the class with the fields of its own benchmarks.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ..errors import ConfigError

#: Fewest training images a subset may have (10 per class for the stratified split, see search.data).
MIN_SUBSET = 100

#: ``--small``: every benchmark at a size that, all together, finishes in under ten minutes on
#: two CPU cores (measured: see the commit that records results/bench/*.csv). Explicit options win.
SMALL: dict[str, Any] = {
    "subset": 1000,         # training images (800 train / 200 validation after the 20 % split)
    "test_subset": 1000,    # test images scored per trial / final run
    "epochs": 2,            # 2 is the fewest that still lets Hyperband prune and shows first-epoch tracing
    "repeats": 3,           # alternating timed runs per measurement; the median is reported
    "seconds": 0.5,         # throughput: target length of one timed measurement
    "eval_batch": 256,      # throughput: inference batch (1024 costs the slow models 4-5 s a call on 2 cores)
    "workers": (1, 2),      # workers: worker processes sharing the device (2 CPU cores here)
    "worker_trials": 4,     # workers: trials of the study each worker count runs
}

#: Without ``--small``: sizes where per-trial constants no longer dominate, still CPU-feasible per benchmark.
DEFAULTS: dict[str, Any] = {
    "subset": 10000,
    "test_subset": None,
    "epochs": 3,
    "repeats": 5,
    "seconds": 3.0,
    "eval_batch": 1024,
    "workers": (1, 2, 4),
    "worker_trials": 8,
}


@dataclass(frozen=True)
class BenchSettings:
    """Sizes and inputs shared by all benchmarks (defaults: :data:`DEFAULTS`).

    :meth:`from_options` fills the options not given from a preset. ``subset``
    is the number of training images (stratified, before the validation
    split; ``None`` or 60000: all of them), ``test_subset`` the number of test
    images (``None``: all 10,000). ``batch_size`` ``None`` keeps each variant's
    own batch size. ``command`` is recorded verbatim in every CSV row.
    """

    #: The presets :meth:`from_options` fills from (a subclass adds its own fields' values).
    SMALL_PRESET: ClassVar[dict[str, Any]] = SMALL
    DEFAULT_PRESET: ClassVar[dict[str, Any]] = DEFAULTS
    #: Fields that must be positive integers.
    COUNTS: ClassVar[tuple[str, ...]] = ("epochs", "repeats", "eval_batch", "worker_trials")

    data_dir: Path | None = None
    subset: int | None = DEFAULTS["subset"]
    test_subset: int | None = DEFAULTS["test_subset"]
    epochs: int = DEFAULTS["epochs"]
    batch_size: int | None = None
    repeats: int = DEFAULTS["repeats"]
    seed: int = 0
    out: Path = Path("results/bench")
    variants: tuple[str, ...] | None = None
    seconds: float = DEFAULTS["seconds"]
    eval_batch: int = DEFAULTS["eval_batch"]
    workers: tuple[int, ...] = DEFAULTS["workers"]
    worker_trials: int = DEFAULTS["worker_trials"]
    seeds: int | None = None  # comparison: seeds per model (None: the space's own)
    small: bool = False
    command: str = ""

    def __post_init__(self) -> None:
        for name in self.COUNTS:
            _positive_int(name, getattr(self, name))
        if not self.workers:
            raise ConfigError("workers must list at least one worker count")
        for count in self.workers:
            _positive_int("workers", count)
        for name in ("batch_size", "seeds"):
            if getattr(self, name) is not None:
                _positive_int(name, getattr(self, name))
        if self.subset is not None:
            _positive_int("subset", self.subset)
            if self.subset < MIN_SUBSET:
                raise ConfigError(f"subset must be at least {MIN_SUBSET} (10 images per class), got {self.subset}")
        if self.test_subset is not None:
            _positive_int("test_subset", self.test_subset)
            if self.test_subset < 10:
                raise ConfigError(f"test_subset must be at least 10 (one image per class), got {self.test_subset}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or not 0 <= self.seed < 2**32:
            raise ConfigError(f"seed must be an integer from 0 to 2**32-1, got {self.seed!r}")
        if not isinstance(self.seconds, (int, float)) or isinstance(self.seconds, bool) or not self.seconds > 0:
            raise ConfigError(f"seconds must be a positive number, got {self.seconds!r}")
        if self.data_dir is not None and not Path(self.data_dir).is_dir():
            raise ConfigError(f"--data-dir {self.data_dir}: no such directory (it must hold the four "
                              "Fashion-MNIST .gz files)")

    @classmethod
    def from_options(cls, *, small: bool = False, **options: Any) -> BenchSettings:
        """Settings from keyword options; ``None`` values take the preset's (``SMALL`` or ``DEFAULTS``)."""
        preset = cls.SMALL_PRESET if small else cls.DEFAULT_PRESET
        values = {k: v for k, v in options.items() if v is not None}
        for key, value in preset.items():
            values.setdefault(key, value)
        return cls(small=small, **values)

    def replace(self, **changes: Any) -> BenchSettings:
        return dataclasses.replace(self, **changes)


def _positive_int(name: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")


def repo_root() -> Path:
    """The checkout this package lives in (where ``spaces/`` is), for default space files."""
    return Path(__file__).resolve().parents[2]


def default_space(name: str) -> Path:
    """``spaces/NAME`` in the current directory if it is there, else in the checkout."""
    local = Path("spaces") / name
    return local if local.is_file() else repo_root() / "spaces" / name
