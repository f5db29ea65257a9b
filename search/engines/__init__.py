"""Search engines: GridSearchCV over scikeras, and Optuna studies, on one storage."""

from .grid_engine import StratifiedKerasClassifier, run_grid
from .optuna_engine import finished_trials, open_study, run_optuna, target_trials
from .records import FIELDS
from .storage import describe_storage, load_existing_study, mask_url, open_storage

__all__ = [
    "FIELDS", "StratifiedKerasClassifier", "describe_storage", "finished_trials", "load_existing_study", "mask_url",
    "open_storage",
    "open_study", "run_grid", "run_optuna", "target_trials",
]
