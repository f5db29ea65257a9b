"""Fault-tolerance settings that belong to a study, not to the process that happens to run a trial.

Workers of one study must agree on how long a silent trial is tolerated and
on how often a dead trial is retried: a worker that judged by its own
``--heartbeat 5`` would fail the live trials of one that beats every 60 s.
So the heartbeat is stored in the study when it is created and every worker
adopts it; the retry limit and the per-trial time limit are stored by each
``cnn-search run`` (they are how to run the study, not what it is, so a
resume may change them) and read by every worker before each trial.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import optuna

from ..storages.heartbeat import Heartbeat

if TYPE_CHECKING:
    from ..spaces import Space

HEARTBEAT_SETTINGS_ATTR = "heartbeat_settings"  # {"interval": s, "grace": s}: fixed when the study is created
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


def stored_heartbeat(study: optuna.Study) -> Heartbeat | None:
    """The heartbeat the study was created with (None: a study older than this setting)."""
    stored = study.user_attrs.get(HEARTBEAT_SETTINGS_ATTR)
    if not stored:
        return None
    interval = int(stored["interval"])
    return Heartbeat(interval, max(int(stored["grace"]) // interval, 1))


def fix_heartbeat(study: optuna.Study, heartbeat: Heartbeat) -> Heartbeat:
    """The study's heartbeat: ``heartbeat`` is stored if the study has none yet, else the stored one wins."""
    stored = stored_heartbeat(study)
    if stored is not None:
        return stored
    study.set_user_attr(HEARTBEAT_SETTINGS_ATTR, {"interval": heartbeat.interval, "grace": heartbeat.grace})
    return heartbeat


def heartbeat_note(asked: int | None, used: Heartbeat) -> str | None:
    """What to tell a user whose ``--heartbeat`` the study overrides (None: nothing to say)."""
    if asked is None or asked == used.interval:
        return None
    return (f"--heartbeat {asked} ignored: this study's workers beat every {used.interval} s and a trial silent "
            f"for {used.grace} s is failed (fixed when the study was created, so that every worker judges alike)")
