"""Who may be offered coaching: configurable, the edX rule by default."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class EligibilityRule:
    tracks: Collection[str] = ("verified",)
    programs: Collection[str] = ()
    active_within: timedelta = timedelta(days=90)

    def allows(
        self,
        *,
        role: str,
        track: str | None,
        program: str | None,
        last_active_at: datetime | None,
        now: datetime,
    ) -> bool:
        if role != "student" or track not in self.tracks or program not in self.programs:
            return False
        return last_active_at is not None and now - last_active_at <= self.active_within
