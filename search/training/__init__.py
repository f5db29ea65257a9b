"""Training and evaluation of one configuration, and writing its artifacts."""

from .artifacts import ARTIFACTS, write_run
from .options import FitOptions
from .trainer import TrainConfig, TrainResult, release_memory, resolve, train

__all__ = ["ARTIFACTS", "FitOptions", "TrainConfig", "TrainResult", "release_memory", "resolve", "train",
           "write_run"]
