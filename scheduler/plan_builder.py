"""Which activities go into a student's week, on which day, at which hour: pure functions.

Unfinished work comes first (last week's items not done, open assignments, a test started and
not finished, missed class recordings), then what the goals ask for (a practice test, study
days), then study sessions up to a small floor. Items are spread over the week, one a day,
at the start of the student's usual active hours (the program's hour when history is thin).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from scheduler.personas import ACTIVE_HOURS_MAX_POINTS, ACTIVITY_EVENTS, Event, hours_window

MIN_ITEMS, MAX_ITEMS = 3, 5
# Offsets into the week, most spread first: a day of rest between items where possible.
_DAY_ORDER = (0, 2, 4, 1, 3, 5, 6)


def usual_hour(events: Sequence[Event], zone: str, default: int) -> int:
    """The first hour of the student's usual active hours, or the program's default."""
    tz = ZoneInfo(zone)
    activity = [e for e in events if e.type in ACTIVITY_EVENTS][-ACTIVE_HOURS_MAX_POINTS:]
    window = hours_window([e.at.astimezone(tz).hour for e in activity])
    return window[0] if window else default


def open_work(events: Sequence[Event], since_missed: date, zone: str) -> list[str]:
    """Activities for work left open: assignments, an unfinished test, missed classes."""
    refs = {
        kind: {e.ref for e in events if e.type == kind}
        for kind in (
            "assignment_assigned",
            "assignment_submitted",
            "test_started",
            "test_completed",
        )
    }
    found = ["assignment"] * len(refs["assignment_assigned"] - refs["assignment_submitted"])
    found += ["test"] if refs["test_started"] - refs["test_completed"] else []
    tz = ZoneInfo(zone)
    missed = [
        e
        for e in events
        if e.type == "class_missed" and e.at.astimezone(tz).date() >= since_missed
    ]
    return found + ["recording"] * len(missed)


def wanted_by_goals(goals: Sequence[tuple[str, int]]) -> list[str]:
    """(kind, target) of the week's goals -> the activities they ask for."""
    found: list[str] = []
    for kind, target in goals:
        if kind == "practice_test":
            found.append("test")
        elif kind == "study_sessions":
            found += ["study"] * target
        elif kind == "submit_n":
            found += ["assignment"] * target
    return found


def week_days(week_start: date, today: date) -> list[date]:
    """The days of the week still ahead (all seven on the plan day itself)."""
    return [d for d in (week_start + timedelta(days=n) for n in range(7)) if d >= today]


def propose(
    days: Sequence[date],
    hour: int,
    carried: Sequence[str],
    open_items: Sequence[str],
    goals: Sequence[str],
) -> list[dict[str, object]]:
    """Items on `days`: carried and open work first, then goals, padded with study."""
    wanted = list(carried) + list(open_items)
    for activity in goals:  # goals count what open work already covers
        if wanted.count(activity) < goals.count(activity):
            wanted.append(activity)
    wanted = _dedupe_tests(wanted)[: min(MAX_ITEMS, len(days))]
    wanted += ["study"] * (min(MIN_ITEMS, len(days)) - len(wanted))
    order = [offset for offset in _DAY_ORDER if offset < len(days)]
    chosen = sorted(zip(order, wanted, strict=False))  # in the order of the week
    return [
        {"activity": activity, "day": days[offset].isoformat(), "hour": hour, "done": None}
        for offset, activity in chosen
    ]


def _dedupe_tests(activities: list[str]) -> list[str]:
    """One test a week is plenty."""
    first = activities.index("test") if "test" in activities else -1
    return [a for i, a in enumerate(activities) if a != "test" or i == first]
