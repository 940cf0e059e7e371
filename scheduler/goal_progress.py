"""Goals, plan items, streaks, points and badges from learning events: pure functions.

A student's week is the seven local days from their plan day (so the plan, its review and
their goals share one boundary). Progress is always recomputed from events, never counted up
by hand: a late event from the LMS still counts for the day it happened.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from scheduler.personas import ACTIVITY_EVENTS, Event

WEEK = timedelta(days=7)
# Points for what a student did (plan items kept and goals met earn a little on top).
POINTS = {
    "class_attended": 10,
    "assignment_submitted": 20,
    "test_completed": 30,
    "milestone_completed": 50,
}
POINTS_PLAN_ITEM, POINTS_GOAL = 5, 25
# Badge id -> the rule's threshold; earned once, ever (storage keeps the first time).
BADGES = ("first_goal", "perfect_week", "streak_5", "points_100")
STREAK_BADGE, POINTS_BADGE, PERFECT_WEEK_MIN_ITEMS = 5, 100, 3
# Which events keep a plan item of each activity.
ITEM_EVENTS = {
    "assignment": frozenset({"assignment_submitted"}),
    "test": frozenset({"test_started", "test_completed"}),
    "recording": frozenset({"login", "class_attended"}),
    "study": ACTIVITY_EVENTS,
}


def week_start_for(day: date, plan_weekday: int) -> date:
    return day - timedelta(days=(day.weekday() - plan_weekday) % 7)


def local_start(day: date, zone: str) -> datetime:
    return datetime.combine(day, time(0), ZoneInfo(zone))


def week_bounds(week_start: date, zone: str) -> tuple[datetime, datetime]:
    return local_start(week_start, zone), local_start(week_start + WEEK, zone)


@dataclass(frozen=True, slots=True)
class Progress:
    done: int
    of: int

    @property
    def met(self) -> bool:
        return self.of > 0 and self.done >= self.of


def goal_progress(
    kind: str, target: int, week: Sequence[Event], zone: str, checked_in: bool = False
) -> Progress:
    """How far a goal is, from the week's events (an own goal: the student's check-in)."""
    count = _counter(week)
    if kind == "attend_all":  # every class attended: done = attended, of = classes so far
        attended = count("class_attended")
        return Progress(attended, attended + count("class_missed"))
    if kind == "submit_n":
        return Progress(count("assignment_submitted"), target)
    if kind == "practice_test":
        return Progress(count("test_completed"), target)
    if kind == "study_sessions":
        tz = ZoneInfo(zone)
        days = {e.at.astimezone(tz).date() for e in week if e.type in ACTIVITY_EVENTS}
        return Progress(len(days), target)
    return Progress(int(checked_in), 1)


def _counter(events: Sequence[Event]) -> Callable[[str], int]:
    return lambda kind: sum(1 for e in events if e.type == kind)


def item_done(activity: str, day: date, events: Iterable[Event], zone: str) -> bool:
    """A plan item is kept when a matching event happened on its local day."""
    wanted, tz = ITEM_EVENTS.get(activity, ACTIVITY_EVENTS), ZoneInfo(zone)
    return any(e.type in wanted and e.at.astimezone(tz).date() == day for e in events)


def attendance_streak(events: Iterable[Event]) -> tuple[int, int]:
    """(current, best) runs of attended classes; a missed class breaks the run."""
    current = best = 0
    for event in sorted(events, key=lambda e: e.at):
        if event.type == "class_attended":
            current += 1
            best = max(best, current)
        elif event.type == "class_missed":
            current = 0
    return current, best


def plan_streak(kept: Sequence[bool]) -> int:
    """Plan items kept in a row, counting back from the latest item whose day has passed."""
    run = 0
    for done in reversed(kept):
        if not done:
            break
        run += 1
    return run


def points(events: Iterable[Event], items_kept: int, goals_met: int) -> int:
    earned = sum(POINTS.get(e.type, 0) for e in events)
    return earned + items_kept * POINTS_PLAN_ITEM + goals_met * POINTS_GOAL


@dataclass(frozen=True, slots=True)
class Standing:
    """What badges are judged on."""

    goals_met: int
    best_attendance: int
    points: int
    perfect_week: bool


def earned_badges(standing: Standing) -> list[str]:
    rules = {
        "first_goal": standing.goals_met >= 1,
        "perfect_week": standing.perfect_week,
        "streak_5": standing.best_attendance >= STREAK_BADGE,
        "points_100": standing.points >= POINTS_BADGE,
    }
    return [badge for badge in BADGES if rules[badge]]


def perfect(items: Sequence[dict[str, object]]) -> bool:
    return len(items) >= PERFECT_WEEK_MIN_ITEMS and all(i.get("done") for i in items)
