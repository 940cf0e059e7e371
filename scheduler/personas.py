"""Engagement and performance personas computed from a student's event history.

Pure functions over a list of `Event`s; the planner computes the same personas set-based in SQL,
so every threshold below is a named constant and repeated as plain data in `PERSONA_RULES`.
Events later than `now` are ignored everywhere. "Activity" means something the student did
(`ACTIVITY_EVENTS`); scheduled classes, assignments and milestones are things done *to* them.

Engagement (first rule that matches wins):

1. NEW: the latest `enrolled` is less than `NEW_WINDOW` old and fewer than
   `NEW_MAX_PRIOR_ACTIVITY` activity events precede it (a re-enrolling veteran is not new).
   A person with no events at all is NEW too.
2. LAPSED: the last activity (or, without any, the latest enrolment, or else the first event)
   is at least `LAPSED_AFTER` old.
3. SLIPPING: the last `MISSED_IN_A_ROW` class outcomes (attended/missed) are all misses, or the
   attendance rate over the last `RECENT_WINDOW` (at least `SLIPPING_MIN_RECENT_CLASSES`
   outcomes) is `SLIPPING_DROP` or more below the rate over the `BASELINE_WINDOW` before it (at
   least `SLIPPING_MIN_BASELINE_CLASSES` outcomes).
4. REGULAR otherwise.

Performance, over the last `PERFORMANCE_WINDOW`: mean of `test_completed` scores and the
submission rate `min(1, submitted / assigned)` (only when at least `MIN_ASSIGNED_FOR_RATE` were
assigned). LOW if the mean is below `LOW_SCORE` or the rate below `LOW_SUBMISSION_RATE`; HIGH if
the mean is at least `HIGH_SCORE` and the rate (when known) at least `HIGH_SUBMISSION_RATE`;
MIDDLE otherwise, including when there is no evidence at all.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, tzinfo
from enum import StrEnum
from zoneinfo import ZoneInfo

# The event vocabulary and the thresholds are plain data in core (the SQL reads them too).
from core.events import ACTIVITY_EVENTS, CLASS_OUTCOMES, Event
from core.events import EVENT_TYPES as EVENT_TYPES
from core.persona_rules import (
    ACTIVE_HOURS_MAX_POINTS,
    ACTIVE_HOURS_MAX_SPREAD,
    ACTIVE_HOURS_MIN_POINTS,
    ACTIVE_HOURS_MIN_SPREAD,
    BASELINE_WINDOW,
    HIGH_SCORE,
    HIGH_SUBMISSION_RATE,
    LAPSED_AFTER,
    LOW_SCORE,
    LOW_SUBMISSION_RATE,
    MIN_ASSIGNED_FOR_RATE,
    MISSED_IN_A_ROW,
    NEW_MAX_PRIOR_ACTIVITY,
    NEW_WINDOW,
    PERFORMANCE_WINDOW,
    RECENT_WINDOW,
    SLIPPING_DROP,
    SLIPPING_MIN_BASELINE_CLASSES,
    SLIPPING_MIN_RECENT_CLASSES,
)
from core.persona_rules import PERSONA_RULES as PERSONA_RULES


class Engagement(StrEnum):
    NEW = "new"
    REGULAR = "regular"
    SLIPPING = "slipping"
    LAPSED = "lapsed"


class Performance(StrEnum):
    HIGH = "high"
    MIDDLE = "middle"
    LOW = "low"


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _past(events: Iterable[Event], now: datetime) -> list[Event]:
    """Events up to `now`, oldest first."""
    cutoff = _utc(now)
    return sorted((e for e in events if _utc(e.at) <= cutoff), key=lambda e: _utc(e.at))


def engagement_persona(events: Iterable[Event], now: datetime) -> Engagement:
    """Classify engagement by the rules in the module docstring."""
    history = _past(events, now)
    now = _utc(now)
    if not history or _is_new(history, now):
        return Engagement.NEW
    if now - _last_seen(history) >= LAPSED_AFTER:
        return Engagement.LAPSED
    if _is_slipping(history, now):
        return Engagement.SLIPPING
    return Engagement.REGULAR


def _is_new(history: Sequence[Event], now: datetime) -> bool:
    enrolments = [e for e in history if e.type == "enrolled"]
    if not enrolments:
        return False
    enrolled_at = _utc(enrolments[-1].at)
    prior = sum(1 for e in history if e.type in ACTIVITY_EVENTS and _utc(e.at) < enrolled_at)
    return now - enrolled_at < NEW_WINDOW and prior < NEW_MAX_PRIOR_ACTIVITY


def _last_seen(history: Sequence[Event]) -> datetime:
    for kinds in (ACTIVITY_EVENTS, {"enrolled"}):
        seen = [e for e in history if e.type in kinds]
        if seen:
            return _utc(seen[-1].at)
    return _utc(history[0].at)


def _is_slipping(history: Sequence[Event], now: datetime) -> bool:
    outcomes = [e for e in history if e.type in CLASS_OUTCOMES]
    last = outcomes[-MISSED_IN_A_ROW:]
    if len(last) == MISSED_IN_A_ROW and all(e.type == "class_missed" for e in last):
        return True
    recent_start = now - RECENT_WINDOW
    recent = [e for e in outcomes if _utc(e.at) > recent_start]
    baseline = [e for e in outcomes if recent_start - BASELINE_WINDOW < _utc(e.at) <= recent_start]
    if len(recent) < SLIPPING_MIN_RECENT_CLASSES or len(baseline) < SLIPPING_MIN_BASELINE_CLASSES:
        return False
    return _attendance(baseline) - _attendance(recent) >= SLIPPING_DROP


def _attendance(outcomes: Sequence[Event]) -> float:
    return sum(1 for e in outcomes if e.type == "class_attended") / len(outcomes)


def score_band(score: float) -> Performance:
    """Band of a single test score (0-100), with the same cut-offs as the persona."""
    if score >= HIGH_SCORE:
        return Performance.HIGH
    return Performance.LOW if score < LOW_SCORE else Performance.MIDDLE


def performance_persona(events: Iterable[Event], now: datetime) -> Performance:
    """Classify performance by recent test scores and submission rate."""
    since = _utc(now) - PERFORMANCE_WINDOW
    window = [e for e in _past(events, now) if _utc(e.at) > since]
    scores = [e.score for e in window if e.type == "test_completed" and e.score is not None]
    mean = statistics.fmean(scores) if scores else None
    rate = _submission_rate(window)
    low_mean = mean is not None and mean < LOW_SCORE
    if low_mean or (rate is not None and rate < LOW_SUBMISSION_RATE):
        return Performance.LOW
    if mean is not None and mean >= HIGH_SCORE and (rate is None or rate >= HIGH_SUBMISSION_RATE):
        return Performance.HIGH
    return Performance.MIDDLE


def _submission_rate(window: Sequence[Event]) -> float | None:
    assigned = sum(1 for e in window if e.type == "assignment_assigned")
    if assigned < MIN_ASSIGNED_FOR_RATE:
        return None
    submitted = sum(1 for e in window if e.type == "assignment_submitted")
    return min(1.0, submitted / assigned)


def active_hours(events: Iterable[Event], tz: str | tzinfo) -> tuple[int, int] | None:
    """Typical local hours of activity as (first, last) inclusive hours, or None if too few.

    `first > last` means the window wraps past midnight. The centre is the circular median of
    the local hours of the latest activity events; the spread is their median distance from it,
    clamped to [ACTIVE_HOURS_MIN_SPREAD, ACTIVE_HOURS_MAX_SPREAD].
    """
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    activity = sorted((e for e in events if e.type in ACTIVITY_EVENTS), key=lambda e: _utc(e.at))
    latest = activity[-ACTIVE_HOURS_MAX_POINTS:]
    return hours_window([_utc(e.at).astimezone(zone).hour for e in latest])


def hours_window(hours: Sequence[int]) -> tuple[int, int] | None:
    """`active_hours` from the local hours of the latest activity, oldest first (at most
    ACTIVE_HOURS_MAX_POINTS): for callers that already hold local times."""
    if len(hours) < ACTIVE_HOURS_MIN_POINTS:
        return None
    shift = _start_after_largest_gap(hours)
    shifted = [(h - shift) % 24 for h in hours]
    centre = statistics.median_low(shifted)
    spread = statistics.median_low([abs(h - centre) for h in shifted])
    spread = min(max(spread, ACTIVE_HOURS_MIN_SPREAD), ACTIVE_HOURS_MAX_SPREAD)
    return (centre - spread + shift) % 24, (centre + spread + shift) % 24


def _start_after_largest_gap(hours: Sequence[int]) -> int:
    """The hour that follows the widest empty stretch of the clock, so 23h and 0h stay close."""
    distinct = sorted(set(hours))
    following = distinct[1:] + distinct[:1]
    gaps = [((b - a) % 24 or 24, b) for a, b in zip(distinct, following, strict=True)]
    return max(gaps)[1]
