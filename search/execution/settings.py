"""Recovery settings that belong to a study, not to the process that happens to run a trial.

Workers of one study must agree on how often a dead trial is retried and how
long one trial may take, as they agree on the heartbeat
(:mod:`search.storages.heartbeat`). The retry limit and the per-trial time
limit are stored by each ``cnn-search run`` (they are how to run the study,
not what it is, so a resume may change them) and read by every worker before
each trial.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import optuna

if TYPE_CHECKING:
    from ..spaces import Space

RECOVERY_ATTR = "recovery"  # {"max_retries": n, "trial_timeout": s | None}: set by every `cnn-search run`
DEFAULT_MAX_RETRIES = 1


@dataclass(frozen=True)
class Recovery:
    """How often a trial whose worker died is run again, and how long one trial may take."""

    max_retries: int = DEFAULT_MAX_RETRIES
    trial_timeout: float | None = None  # seconds from claim to result; None: no limit

    def record(self) -> dict[str, Any]:
        return {"max_retries": self.max_retries, "trial_timeout": self.trial_timeout}


def store_recovery(study: optuna.Study, space: Space) -> Recovery:
    """Record the space's retry limit and trial time limit in the study (the last ``run`` wins)."""
    recovery = Recovery(space.recovery.max_retries, space.recovery.trial_timeout)
    study.set_user_attr(RECOVERY_ATTR, recovery.record())
    return recovery


def recovery_settings(study: optuna.Study) -> Recovery:
    """The study's recovery settings (studies stored before they existed: one retry, no time limit)."""
    stored = study.user_attrs.get(RECOVERY_ATTR) or {}
    return Recovery(int(stored.get("max_retries", DEFAULT_MAX_RETRIES)), stored.get("trial_timeout"))
