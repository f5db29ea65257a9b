"""One worker joining a study: the Python API behind ``cnn-search worker``.

Everything a worker needs besides the data is in the storage: the space
(variant, search space, data options, budget, seed) was stored with the study
when ``cnn-search run`` created it, and the trials to run are queued there.
So a worker on another host is started with the study name and the storage
URL alone, loads and decodes the dataset once, and runs queued trials until
none is left and none is running anywhere.
"""

from __future__ import annotations

import sys
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import optuna

from ..compat import study_storage
from ..data import load_dataset
from ..execution import run_study
from ..execution.recovery import worker_id
from ..progress import TrialReporter
from ..runtime import device_description, run_environment
from ..spaces import ParamCounter
from ..storages import describe_storage, load_existing_study
from ..study import stored_space
from ..study.study import COMPUTE_ATTR, TARGET_ATTR, compute_used


@dataclass(frozen=True)
class WorkerOptions:
    """Where the study is, and how long and how watchfully this worker runs."""

    study: str
    storage: str | None = None  # None: the journal file under results_dir/<study>/
    results_dir: Path = Path("results")
    data_dir: Path | None = None
    timeout: float | None = None  # stop claiming trials after this many seconds (default: the study's)
    heartbeat: int | None = None  # seconds, for studies created before the heartbeat was stored with them
    poll_interval: float = 2.0
    memory_cap: str = ""  # what the worker's start-up capped (search.workers.memory), for its first line


def sampler_seed(seed: int, worker: str | None = None) -> int:
    """A seed per worker: workers seeded alike would sample the same configurations in parallel."""
    return (seed + zlib.crc32((worker or worker_id()).encode())) % 2**32


def run_worker(options: WorkerOptions, stream: TextIO | None = None) -> optuna.Study:
    """Join ``options.study`` and run its queued trials; returns the study when there is no more work."""
    stream = stream or sys.stderr
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # failures are reported by our progress lines
    study = load_existing_study(options.study, options.storage, options.results_dir, options.heartbeat, stream)
    space = stored_space(study)
    dataset = load_dataset(space.data_options(), data_dir=options.data_dir)
    seed = sampler_seed(space.seed)
    where = describe_storage(options.storage, options.study, options.results_dir)
    print(f"worker {worker_id()} on {device_description()} joined study '{space.study}' ({space.engine}) in "
          f"{where}: {len(dataset.y_train):,} train / {len(dataset.y_val):,} val images, sampler seed {seed}"
          + (f", {options.memory_cap}" if options.memory_cap else ""),
          file=stream, flush=True)
    reporter = TrialReporter(study.user_attrs.get(TARGET_ATTR), stream,
                             compute_cap=study.user_attrs.get(COMPUTE_ATTR), compute_at_start=compute_used(study))
    attrs = {**run_environment(), "sampler_seed": seed}
    return run_study(space, study_storage(study), dataset, ParamCounter.for_dataset(dataset), [reporter], queue=False,
                     timeout=options.timeout, sampler_seed=seed, poll_interval=options.poll_interval,
                     trial_attrs=attrs)
