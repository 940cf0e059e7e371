"""Goals and the weekly plan on a student's card (mentors and admins): the latest week's."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlmodel import Session

from bot.i18n import Gettext
from scheduler import goal_progress as rules
from scheduler import goal_texts as texts
from storage import goals as goal_store
from storage.tables import Goal, Person, StudyPlan

FALLBACK_ZONE = "UTC"  # a card only labels days: a student without a zone is read in UTC


def goal_lines(t: Gettext, session: Session, person: Person, now: datetime) -> list[str]:
    pid, zone = person.id or 0, person.time_zone or FALLBACK_ZONE
    lines = []
    week = _latest(session, Goal, pid)
    if week is not None:
        shown = [
            _goal(t, session, goal, zone, now)
            for goal in goal_store.goals_of_week(session, pid, week)
        ]
        lines.append(
            t._(
                "Goals (week of {day}): {goals}",
                day=texts.day_label(week, t.locale),
                goals="; ".join(shown),
            )
        )
    week = _latest(session, StudyPlan, pid)
    plan = goal_store.plan_of(session, pid, week) if week is not None else None
    if plan is not None:
        lines.append(_plan(t, session, plan, zone, now))
    return lines


def _latest(session: Session, table: type[Goal] | type[StudyPlan], pid: int) -> date | None:
    query = select(func.max(table.week_start)).where(table.person_id == pid)
    return session.execute(query).scalar_one_or_none()


def _goal(t: Gettext, session: Session, goal: Goal, zone: str, now: datetime) -> str:
    start, end = rules.week_bounds(goal.week_start, zone)
    events = goal_store.history(session, goal.person_id, start, min(end, now))
    progress = rules.goal_progress(
        goal.kind, goal.target, events, zone, goal.checked_in_at is not None
    )
    if goal.status != "active":
        progress = rules.Progress(
            goal.progress, progress.of if goal.kind == "attend_all" else max(goal.target, 1)
        )
    return texts.goal_line(
        t, texts.goal_label(t, goal.kind, goal.target, goal.text), progress, goal.status
    )


def _plan(t: Gettext, session: Session, plan: StudyPlan, zone: str, now: datetime) -> str:
    today = now.astimezone(ZoneInfo(zone)).date()
    start, end = rules.week_bounds(plan.week_start, zone)
    events = goal_store.history(session, plan.person_id, start, min(end, now))
    kept = sum(
        1
        for item in plan.items
        if item.get("done")
        or (
            item.get("done") is None
            and rules.item_done(item["activity"], date.fromisoformat(item["day"]), events, zone)
        )
    )
    state = t._("accepted") if plan.accepted_at else t._("proposed")
    upcoming = [i for i in plan.items if date.fromisoformat(i["day"]) >= today]
    nxt = texts.item_line(t, upcoming[0]) if upcoming else "—"
    return t._(
        "Plan (week of {day}, {state}): {kept} of {total} kept; next: {next}",
        day=texts.day_label(plan.week_start, t.locale),
        state=state,
        kept=kept,
        total=len(plan.items),
        next=nxt,
    )
