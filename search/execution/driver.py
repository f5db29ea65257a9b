"""Driving a study in this process: open it, queue its work, run the worker loop.

Both engines are objectives over queued trials (:func:`search.engines.make_objective`),
so one drive serves the grid and Optuna alike; the process that starts a
search queues the work, a worker joining it does not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import optuna

from ..engines import make_objective
from ..study.queue import top_up
from ..study.study import open_study, target_trials
from .loop import LoopOptions, TrialCallback, work

if TYPE_CHECKING:
    from ..data import Dataset
    from ..spaces import ParamCounter, Space


def run_study(space: Space, storage: optuna.storages.BaseStorage, dataset: Dataset, counter: ParamCounter,
              callbacks: Sequence[TrialCallback] = (), *, queue: bool = True, timeout: float | None = None,
              sampler_seed: int | None = None, poll_interval: float = 2.0,
              trial_attrs: Mapping[str, Any] | None = None) -> optuna.Study:
    """Run (or resume) the study until its queue is empty and nothing runs, or ``timeout`` passes.

    Either engine: every in-budget grid point not yet in the study is
    cross-validated, or Optuna's trials are sampled until the target.
    ``queue=False`` joins a study another process queued (``cnn-search worker``).
    """
    study = open_study(space, storage, sampler_seed)
    if queue:
        top_up(study, space, dataset)
    options = LoopOptions(timeout=space.optuna.timeout if timeout is None else timeout,
                          open_ended=target_trials(space) is None, poll_interval=poll_interval,
                          trial_attrs=dict(trial_attrs or {}))
    work(study, make_objective(space, dataset, counter), options, list(callbacks))
    return study
