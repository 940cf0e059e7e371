"""The short weekly review: what was done celebrated, what was not carried over, in the tone
of the student's engagement persona; badges earned that week named."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlmodel import Session

from core.i18n import Gettext
from scheduler import goal_texts as texts
from scheduler.personas import engagement_persona
from storage import goals as goal_store
from storage.plans import StudentWeek

WEEK = timedelta(days=7)


def review(
    session: Session,
    t: Gettext,
    student: StudentWeek,
    week_start: date,
    badges: list[str],
    now: datetime,
) -> str | None:
    """The review of the week before `week_start`, with the badges its close earned; None
    when the student had nothing in that week."""
    last = week_start - WEEK
    goals = goal_store.goals_of_week(session, student.id, last)
    plan = goal_store.plan_of(session, student.id, last)
    items = plan.items if plan is not None and plan.accepted_at is not None else []
    if not goals and not items:
        return None
    engagement = engagement_persona(goal_store.history(session, student.id, until=now), now)
    labelled = [(texts.goal_label(t, g.kind, g.target, g.text), g.status) for g in goals]
    kept = sum(1 for item in items if item.get("done"))
    return texts.review_text(
        t,
        engagement.value,
        labelled,
        kept,
        len(items),
        [texts.badge_label(t, b) for b in badges],
    )
