"""Running a study's trials, and the fault tolerance around them.

:mod:`.driver` runs a study in this process; :mod:`.loop` is what every
worker runs (claim, run, repeat); :mod:`.trial` runs one trial and records its
result; :mod:`.recovery` fails and retries the trials of dead or hung
workers, within the limits :mod:`.settings` stores in the study.
"""

from .driver import run_study

__all__ = ["run_study"]
