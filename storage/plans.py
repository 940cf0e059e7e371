"""Weekly plans, the students the weekly tick looks at, and the plan's deliveries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlmodel import Session

from storage.tables import ConsentRecord, Delivery, Identity, Person, StudyPlan, StudyPrefs
from storage.upsert import insert_ignore

OPEN_PLAN = ("proposed", "accepted")


@dataclass(frozen=True, slots=True)
class StudentWeek:
    """What the weekly tick needs to know about one student."""

    id: int
    name: str
    locale: str | None
    zone: str | None
    program: str | None
    plan_weekday: int | None  # their own choice; None: their program's day


def students(session: Session) -> list[StudentWeek]:
    """Every student not erased, with their own plan day if they chose one (one query)."""
    p, s = Person, StudyPrefs
    query = (
        select(p.id, p.display_name, p.locale, p.time_zone, p.program, s.plan_weekday)
        .outerjoin(s, s.person_id == p.id)  # type: ignore[arg-type]
        .where(p.role == "student", p.erased_at.is_(None))  # type: ignore[union-attr]
        .order_by(p.id)
    )
    return [
        StudentWeek(pid, (name or "").split(" ")[0], locale, zone, program, weekday)
        for pid, name, locale, zone, program, weekday in session.execute(query)
    ]


def save_plan(
    session: Session, person_id: int, week_start: date, items: list[dict[str, Any]], now: datetime
) -> StudyPlan | None:
    """A new proposal; None when the week has a plan already (planners may race)."""
    row = dict(
        person_id=person_id, week_start=week_start, status="proposed", items=items, created_at=now
    )
    if not insert_ignore(session, StudyPlan.__table__, row):
        return None
    query = select(StudyPlan).where(
        StudyPlan.person_id == person_id, StudyPlan.week_start == week_start
    )
    return session.execute(query).scalars().one()


def open_plans_until(session: Session, latest_start: date) -> list[StudyPlan]:
    query = select(StudyPlan).where(
        StudyPlan.status.in_(OPEN_PLAN),  # type: ignore[attr-defined]
        StudyPlan.week_start <= latest_start,
    )
    return list(session.execute(query.order_by(StudyPlan.id)).scalars())


def accepted_since(session: Session, earliest_start: date) -> list[StudyPlan]:
    query = select(StudyPlan).where(
        StudyPlan.status == "accepted", StudyPlan.week_start >= earliest_start
    )
    return list(session.execute(query.order_by(StudyPlan.id)).scalars())


def update_plan(session: Session, plan: StudyPlan, **changes: Any) -> None:
    """JSON items are replaced whole, so the change is seen on both engines."""
    for name, value in changes.items():
        setattr(plan, name, value)
    session.add(plan)
    session.flush()


def closed_plans(session: Session, person_id: int) -> list[StudyPlan]:
    query = select(StudyPlan).where(
        StudyPlan.person_id == person_id, StudyPlan.status == "reviewed"
    )
    return list(session.execute(query.order_by(StudyPlan.week_start)).scalars())


def queue(
    session: Session,
    person_id: int,
    where: tuple[str, str],
    text: str,
    key: str,
    due: datetime,
    expires: datetime,
    meta: dict[str, Any],
    now: datetime,
) -> int:
    """A proactive study message: a nudge with purpose "nudges", so the send-time policy
    applies consent, opt-outs, quiet hours, the daily cap and mentor holds; once per key."""
    row = dict(
        person_id=person_id,
        channel=where[0],
        address=where[1],
        kind="nudge",
        purpose="nudges",
        text=text,
        choices=[],
        status="pending",
        due_at=due,
        expires_at=expires,
        dedupe_key=key,
        attempts=0,
        campaign_id=None,
        meta=meta,
        created_at=now,
        updated_at=now,
        step=0,
    )
    return insert_ignore(session, Delivery.__table__, row)


def withdraw(session: Session, key_prefix: str, now: datetime) -> None:
    """A moved plan item's reminder, not sent yet, is no longer wanted."""
    session.execute(
        update(Delivery)
        .where(
            Delivery.dedupe_key.startswith(key_prefix),  # type: ignore[union-attr]
            Delivery.status.in_(("pending", "held")),
        )
        .values(  # type: ignore[attr-defined]
            status="suppressed", error="plan_changed", updated_at=now
        )
    )


def weeks_planned(session: Session, since: date) -> set[tuple[int, date]]:
    """(person, week start) of every plan from `since` on: one read for a whole tick."""
    query = select(StudyPlan.person_id, StudyPlan.week_start).where(StudyPlan.week_start >= since)
    return {(pid, week) for pid, week in session.execute(query)}


_CHUNK = 5_000  # ids per IN (...): well under SQLite's bound-parameter limit


def consents_of(session: Session, person_ids: Sequence[int]) -> dict[int, dict[str, str]]:
    """The latest decision per purpose for many people, in a few reads (oldest first wins
    less: later records overwrite earlier ones)."""
    found: dict[int, dict[str, str]] = {}
    for start in range(0, len(person_ids), _CHUNK):
        chunk = person_ids[start : start + _CHUNK]
        query = (
            select(ConsentRecord.person_id, ConsentRecord.purpose, ConsentRecord.decision)
            .where(ConsentRecord.person_id.in_(chunk))  # type: ignore[union-attr]
            .order_by(ConsentRecord.id)
        )
        for pid, purpose, decision in session.execute(query):
            found.setdefault(pid, {})[purpose] = decision
    return found


def reachable(
    session: Session, person_ids: Sequence[int], channels: Sequence[str]
) -> dict[int, tuple[str, str]]:
    """Each person's first reachable identity among `channels`, in that order of preference."""
    found: dict[int, tuple[str, str]] = {}
    for start in range(0, len(person_ids), _CHUNK):
        chunk = person_ids[start : start + _CHUNK]
        query = select(Identity.person_id, Identity.channel, Identity.address).where(
            Identity.person_id.in_(chunk),  # type: ignore[attr-defined]
            Identity.reachable.is_(True),  # type: ignore[attr-defined]
            Identity.channel.in_(channels),  # type: ignore[attr-defined]
        )
        rows = sorted(session.execute(query), key=lambda r: channels.index(r[1]))
        for pid, channel, address in rows:
            found.setdefault(pid, (channel, address))
    return found
