"""The study: its sampler, pruner and stored space, what "done" means for it, and its queue of trials.

:mod:`.study` opens a study (a different space under the same name is
refused) and answers whether its target or compute budget is reached;
:mod:`.queue` holds the trials still to run, so any number of workers run
exactly the trials asked for.
"""

from .queue import queued, top_up
from .study import finished_trials, open_study, stored_space, target_trials

__all__ = ["finished_trials", "open_study", "queued", "stored_space", "target_trials", "top_up"]
