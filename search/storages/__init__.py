"""Where a study's records live: an Optuna journal file or database, with heartbeats on every running trial.

:mod:`.storage` opens a storage (journal or RDB URL, faults absorbed or one
clear line, passwords masked) and loads existing studies; :mod:`.heartbeat`
is how a running trial shows it is alive. Nothing here needs a deep-learning
backend, so reading results stays light.
"""

from .heartbeat import Heartbeat
from .storage import (
    adopt_heartbeat,
    default_storage_path,
    describe_storage,
    journal_studies,
    load_existing_study,
    mask_url,
    open_storage,
)

__all__ = ["Heartbeat", "adopt_heartbeat", "default_storage_path", "describe_storage", "journal_studies",
           "load_existing_study", "mask_url", "open_storage"]
