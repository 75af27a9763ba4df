"""Whether a CodaLab v1 phase is active, from the schedule the phase list gives.

The rule of codalab-competitions (apps/web/models.py, ``CompetitionPhase.is_active``): a phase with
``phase_never_ends`` is always active; otherwise it is active from its start until the next phase
starts, and the last phase from its start until the competition's ``end_date`` (no end date: for
ever). The phase list gives dates only (``YYYY-MM-DD``), so the day a phase changes is uncertain.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ScheduledPhase:
    """A phase's number, start day and ``phase_never_ends`` flag as the phase list gives them."""

    number: int | None
    start: datetime.date | None
    never_ends: bool = False


def parse_day(value: object) -> datetime.date | None:
    """The day of a ``YYYY-MM-DD...`` string, or None."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return datetime.date.fromisoformat(value[:10])
    except ValueError:
        return None


def active_flags(
    phases: Sequence[ScheduledPhase], competition_end: datetime.date | None, today: datetime.date
) -> list[bool | None]:
    """For each phase (in list order): active, not active, or None when its start is unknown."""
    starts = {phase.number: phase.start for phase in phases if phase.number is not None}
    flags: list[bool | None] = []
    for phase in phases:
        if phase.never_ends:
            flags.append(True)
            continue
        if phase.start is None:
            flags.append(None)
            continue
        following = starts.get(phase.number + 1) if phase.number is not None else None
        if following is not None:
            flags.append(phase.start <= today < following)
        else:
            flags.append(phase.start <= today and (competition_end is None or today < competition_end))
    return flags
