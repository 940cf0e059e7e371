"""Students' goals, badges and plan day: plain functions over a session."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import select, update
from sqlmodel import Session

from core.events import Event
from storage.tables import Badge, Goal, LearningEvent, StudyPlan, StudyPrefs
from storage.upsert import dialect_insert, insert_ignore

ACTIVE = "active"


def history(
    session: Session, person_id: int, since: datetime | None = None, until: datetime | None = None
) -> list[Event]:
    """The person's learning events (optionally in [since, until)), oldest first."""
    e = LearningEvent
    query = select(e.type, e.occurred_at, e.score, e.ref).where(e.person_id == person_id)
    if since is not None:
        query = query.where(e.occurred_at >= since)
    if until is not None:
        query = query.where(e.occurred_at < until)
    rows = session.execute(query.order_by(e.occurred_at))  # type: ignore[arg-type]
    return [Event(kind, at, score, ref) for kind, at, score, ref in rows]


def plan_weekday(session: Session, person_id: int) -> int | None:
    """The student's own plan day, or None while they keep their program's."""
    return session.execute(
        select(StudyPrefs.plan_weekday).where(StudyPrefs.person_id == person_id)
    ).scalar_one_or_none()


def set_plan_weekday(session: Session, person_id: int, weekday: int, now: datetime) -> None:
    values = {"person_id": person_id, "plan_weekday": weekday, "updated_at": now}
    statement = dialect_insert(session, StudyPrefs.__table__).values(values)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["person_id"], set_={"plan_weekday": weekday, "updated_at": now}
        )
    )


def move_week(session: Session, person_id: int, old: date, new: date) -> None:
    """A new plan day moves the week in progress: its goals and plan follow it."""
    if old == new or goals_of_week(session, person_id, new) or plan_of(session, person_id, new):
        return
    session.execute(
        update(Goal)
        .where(Goal.person_id == person_id, Goal.week_start == old, Goal.status == ACTIVE)
        .values(week_start=new)
    )
    session.execute(
        update(StudyPlan)
        .where(StudyPlan.person_id == person_id, StudyPlan.week_start == old)
        .values(week_start=new)
    )


def goals_of_week(session: Session, person_id: int, week_start: date) -> list[Goal]:
    query = select(Goal).where(Goal.person_id == person_id, Goal.week_start == week_start)
    return list(session.execute(query.order_by(Goal.id)).scalars())  # type: ignore[arg-type]


def set_goal(
    session: Session,
    person_id: int,
    week_start: date,
    kind: str,
    target: int,
    now: datetime,
    text: str | None = None,
    carried_from: int | None = None,
) -> bool:
    """One goal per kind and week: a second pick of the same kind changes its target/words."""
    row = dict(
        person_id=person_id,
        week_start=week_start,
        kind=kind,
        target=target,
        text=text,
        status=ACTIVE,
        progress=0,
        carried_from=carried_from,
        created_at=now,
    )
    if insert_ignore(session, Goal.__table__, row):
        return True
    if carried_from is None:
        session.execute(
            update(Goal)
            .where(
                Goal.person_id == person_id,
                Goal.week_start == week_start,
                Goal.kind == kind,
                Goal.status == ACTIVE,
            )
            .values(target=target, text=text)
        )
    return False


def check_in(session: Session, person_id: int, goal_id: int, now: datetime) -> Goal | None:
    """The student says their own goal is done; only theirs, only while the week runs."""
    goal = session.get(Goal, goal_id)
    if goal is None or goal.person_id != person_id or goal.status != ACTIVE:
        return None
    goal.checked_in_at = goal.checked_in_at or now
    session.add(goal)
    return goal


def open_goals_until(session: Session, latest_start: date) -> list[Goal]:
    """Active goals of weeks that began on or before `latest_start` (candidates to close)."""
    query = select(Goal).where(Goal.status == ACTIVE, Goal.week_start <= latest_start)
    return list(session.execute(query.order_by(Goal.person_id, Goal.id)).scalars())  # type: ignore[arg-type]


def close_goal(session: Session, goal: Goal, status: str, progress: int, now: datetime) -> None:
    goal.status, goal.progress, goal.closed_at = status, progress, now
    session.add(goal)


def goals_met(session: Session, person_id: int) -> int:
    query = select(Goal.id).where(Goal.person_id == person_id, Goal.status == "met")
    return len(session.execute(query).all())


def missed_goals(session: Session, person_ids: Iterable[int], since: datetime) -> dict[int, Goal]:
    """The latest goal each person missed or carried over, closed since `since`."""
    query = select(Goal).where(
        Goal.person_id.in_(set(person_ids)),  # type: ignore[attr-defined]
        Goal.status.in_(("missed", "carried")),  # type: ignore[attr-defined]
        Goal.closed_at >= since,  # type: ignore[operator]
    )
    return {g.person_id: g for g in session.execute(query.order_by(Goal.id)).scalars()}


def badges_of(session: Session, person_id: int) -> list[str]:
    query = select(Badge.badge).where(Badge.person_id == person_id).order_by(Badge.earned_at)
    return list(session.execute(query).scalars())


def award(session: Session, person_id: int, badges: Iterable[str], now: datetime) -> list[str]:
    """Record badges; returns those earned just now (a badge is earned once, ever)."""
    return [
        badge
        for badge in badges
        if insert_ignore(
            session, Badge.__table__, {"person_id": person_id, "badge": badge, "earned_at": now}
        )
    ]


def plan_of(session: Session, person_id: int, week_start: date) -> StudyPlan | None:
    query = select(StudyPlan).where(
        StudyPlan.person_id == person_id, StudyPlan.week_start == week_start
    )
    return session.execute(query).scalars().first()
