"""Search engines: GridSearchCV over scikeras, and Optuna studies, on one storage and one queue."""

from ..execution.driver import make_objective, run_grid, run_optuna, run_study
from ..records import FIELDS
from ..storages.heartbeat import Heartbeat
from ..storages.storage import describe_storage, load_existing_study, mask_url, open_storage
from ..study.study import finished_trials, open_study, stored_space, target_trials
from .grid_engine import StratifiedKerasClassifier

__all__ = [
    "FIELDS", "Heartbeat", "StratifiedKerasClassifier", "describe_storage", "finished_trials",
    "load_existing_study", "make_objective", "mask_url", "open_storage", "open_study", "run_grid", "run_optuna",
    "run_study", "stored_space", "target_trials",
]
