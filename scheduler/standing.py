"""A student's standing: streaks, points and badges, read from their events and plans.

Shared by /progress, the weekly close (badges are awarded there, once) and mentors' cards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session

from scheduler import goal_progress as rules
from scheduler.personas import Event
from storage import goals as goal_store
from storage import plans as plan_store
from storage.tables import StudyPlan


@dataclass(frozen=True, slots=True)
class Standing:
    attendance: int  # classes attended in a row, now
    best_attendance: int
    plan_streak: int  # plan items kept in a row
    points: int
    goals_met: int
    badges: tuple[str, ...]


def kept_items(plans: list[StudyPlan], events: list[Event], zone: str, today: date) -> list[bool]:
    """Every plan item whose day has passed (or is today and kept), oldest first."""
    kept: list[bool] = []
    for plan in plans:
        if plan.accepted_at is None:
            continue  # a proposal the student never took up is not their plan
        for item in plan.items:
            day = date.fromisoformat(item["day"])
            done = item.get("done")
            if done is None and day <= today:
                done = rules.item_done(item["activity"], day, events, zone)
                if day == today and not done:
                    continue  # today is not over: not kept *yet*
            if done is not None:
                kept.append(bool(done))
    return kept


def standing(
    session: Session, person_id: int, zone: str, now: datetime, current: StudyPlan | None = None
) -> Standing:
    events = goal_store.history(session, person_id, until=now)
    plans = plan_store.closed_plans(session, person_id) + ([current] if current else [])
    today = now.astimezone(ZoneInfo(zone)).date()
    kept = kept_items(plans, events, zone, today)
    attendance, best = rules.attendance_streak(events)
    met = goal_store.goals_met(session, person_id)
    points = rules.points(events, sum(kept), met)
    badges = tuple(goal_store.badges_of(session, person_id))
    return Standing(attendance, best, rules.plan_streak(kept), points, met, badges)


def award_badges(session: Session, person_id: int, zone: str, now: datetime) -> list[str]:
    """Badges the student has just earned (each once, ever)."""
    found = standing(session, person_id, zone, now)
    closed = plan_store.closed_plans(session, person_id)
    perfect = any(rules.perfect(p.items) for p in closed if p.accepted_at is not None)
    judged = rules.Standing(found.goals_met, found.best_attendance, found.points, perfect)
    return goal_store.award(session, person_id, rules.earned_badges(judged), now)
