"""The end of a student's week: goals met, missed or carried over, plan items kept or not,
badges earned. Idempotent: only open goals and plans are closed, each once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from scheduler import goal_progress as rules
from scheduler.goal_config import GoalConfig
from scheduler.standing import award_badges
from storage import goals as goal_store
from storage import plans as plan_store
from storage.plans import StudentWeek
from storage.tables import Goal, StudyPlan

ZoneOf = Callable[[StudentWeek | None], str]


def local_today(now: datetime, zone: str) -> date:
    return now.astimezone(ZoneInfo(zone)).date()


def close_weeks(
    session: Session,
    people: dict[int, StudentWeek],
    zone_of: ZoneOf,
    config: GoalConfig,
    now: datetime,
) -> dict[int, list[str]]:
    """Close every week that has ended in its student's zone; returns who had one closed, with
    the badges that earned them (for the weekly review, sent in the same tick)."""
    latest = now.date() - timedelta(days=6)  # no zone is far enough ahead to end a later week
    closed: set[int] = set()
    for row in [
        *goal_store.open_goals_until(session, latest),
        *plan_store.open_plans_until(session, latest),
    ]:
        zone = zone_of(people.get(row.person_id))
        if local_today(now, zone) < row.week_start + rules.WEEK:
            continue
        if isinstance(row, Goal):
            _close_goal(session, row, zone, now)
        else:
            _close_plan(session, row, zone, now)
        closed.add(row.person_id)
    earned: dict[int, list[str]] = {}
    for person_id in closed:
        student = people.get(person_id)
        if config.for_program(student.program if student else None).gamification:
            earned[person_id] = award_badges(session, person_id, zone_of(student), now)
    return {person_id: earned.get(person_id, []) for person_id in closed}


def _close_goal(session: Session, goal: Goal, zone: str, now: datetime) -> None:
    start, end = rules.week_bounds(goal.week_start, zone)
    week = goal_store.history(session, goal.person_id, start, end)
    progress = rules.goal_progress(
        goal.kind, goal.target, week, zone, checked_in=goal.checked_in_at is not None
    )
    if progress.met:
        status = "met"
    elif goal.carried_from is None:  # one more week to make it; a second miss is a miss
        status = "carried"
        goal_store.set_goal(
            session,
            goal.person_id,
            goal.week_start + rules.WEEK,
            goal.kind,
            goal.target,
            now,
            goal.text,
            carried_from=goal.id,
        )
    else:
        status = "missed"
    goal_store.close_goal(session, goal, status, progress.done, now)


def _close_plan(session: Session, plan: StudyPlan, zone: str, now: datetime) -> None:
    start, end = rules.week_bounds(plan.week_start, zone)
    week = goal_store.history(session, plan.person_id, start, end)
    items = [
        {
            **item,
            "done": rules.item_done(item["activity"], date.fromisoformat(item["day"]), week, zone),
        }
        for item in plan.items
    ]
    plan_store.update_plan(session, plan, items=items, status="reviewed", reviewed_at=now)
