"""Who is offered an escalation, and when a student can expect a human reply. Pure.

Normal: the student's own mentor first (when available and under capacity), then available
mentors who speak the student's language by fewest open conversations, then anyone available.
Urgent (crisis): every available mentor at once, whatever their language. First-response
targets: urgent 15 minutes; normal 4 working hours, counted from the moment the first available
mentor is at work in their own time zone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from storage.mentors import MentorFacts

URGENT_TARGET = timedelta(minutes=15)
NORMAL_TARGET = timedelta(hours=4)
_SEARCH_DAYS = 8


def candidates(
    mentors: Sequence[MentorFacts],
    load: Mapping[int, int],
    *,
    locale: str | None,
    own_mentor: int | None,
    urgent: bool,
    exclude: frozenset[int] = frozenset(),
) -> list[int]:
    """Mentor ids in the order they are offered the escalation."""
    ready = [m for m in mentors if m.available and m.id not in exclude]
    if urgent:
        return [m.id for m in sorted(ready, key=lambda m: (load.get(m.id, 0), m.id))]
    ready = [m for m in ready if load.get(m.id, 0) < m.capacity]
    own = [m for m in ready if m.id == own_mentor]
    rest = sorted((m for m in ready if m.id != own_mentor),
                  key=lambda m: (locale not in m.languages, load.get(m.id, 0), m.id))  # fmt: skip
    return [m.id for m in (*own, *rest)]


def _clock(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def next_working_moment(mentor: MentorFacts, now: datetime, fallback_zone: str) -> datetime:
    """Now, when the mentor is at work; else the start of their next working day."""
    zone = ZoneInfo(mentor.time_zone or fallback_zone)
    local = now.astimezone(zone)
    start, end = _clock(mentor.work_start), _clock(mentor.work_end)
    for offset in range(_SEARCH_DAYS):
        day = local.date() + timedelta(days=offset)
        if day.weekday() not in mentor.work_days:
            continue
        opens = datetime.combine(day, start, zone)
        closes = datetime.combine(day, end, zone)
        if local < closes:
            return max(local, opens).astimezone(now.tzinfo)
    return now + timedelta(days=_SEARCH_DAYS)  # nobody ever works: say so honestly later


def expected_reply(
    mentors: Sequence[MentorFacts], now: datetime, fallback_zone: str
) -> datetime | None:
    """The earliest moment an available mentor is at work; None when no mentor is available."""
    moments = [next_working_moment(m, now, fallback_zone) for m in mentors if m.available]
    return min(moments) if moments else None


def response_target(
    urgent: bool,
    expected: datetime | None,
    now: datetime,
    targets: tuple[timedelta, timedelta] = (URGENT_TARGET, NORMAL_TARGET),
) -> datetime:
    """Urgent: now + the urgent target; normal: the normal target counted in working time,
    from the moment a mentor is at work (`expected`)."""
    urgent_target, normal_target = targets
    if urgent:
        return now + urgent_target
    return max(expected or now, now) + normal_target
