"""What the mentors' daily brief reads: mentors, their students' personas (the planner's own
SQL, so a brief and the nudges agree on who is lapsed or slipping), missed goals, requests."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from storage.persona_sql import persona_select
from storage.plan_render import read_instant
from storage.sql_params import sql
from storage.tables import Delivery, Escalation, Person

OPEN = ("open", "offered", "taken")


@dataclass(frozen=True, slots=True)
class MentorRow:
    id: int
    locale: str | None
    zone: str | None


@dataclass(frozen=True, slots=True)
class StudentRisk:
    id: int
    mentor_id: int
    name: str
    engagement: str
    last_seen_at: datetime | None


def mentors(session: Session) -> list[MentorRow]:
    query = select(Person.id, Person.locale, Person.time_zone).where(
        Person.role == "mentor",
        Person.erased_at.is_(None),  # type: ignore[union-attr]
    )
    return [MentorRow(*row) for row in session.execute(query.order_by(Person.id))]


def students_of(session: Session, mentor_ids: Iterable[int], now: datetime) -> list[StudentRisk]:
    """The mentors' students with their engagement persona and when they were last seen."""
    params: dict[str, Any] = {"mentors": sorted(set(mentor_ids))}
    if not params["mentors"]:
        return []
    statement = f"""SELECT p.id, p.mentor_id, p.display_name, pp.engagement, pp.last_seen_at
        FROM person p JOIN ({persona_select(now, params)}) pp ON pp.person_id = p.id
        WHERE p.mentor_id IN :mentors ORDER BY p.display_name, p.id"""
    return [
        StudentRisk(pid, mentor, name or f"#{pid}", engagement, read_instant(seen))
        for pid, mentor, name, engagement, seen in session.execute(sql(statement, params))
    ]


def open_requests(session: Session, person_ids: Iterable[int]) -> dict[int, int]:
    """person id -> their open request's number."""
    query = select(Escalation.person_id, Escalation.id).where(
        Escalation.person_id.in_(set(person_ids)),  # type: ignore[attr-defined]
        Escalation.status.in_(OPEN),  # type: ignore[attr-defined]
    )
    return {pid: number for pid, number in session.execute(query)}


def already_sent(session: Session, key: str) -> bool:
    return (
        session.execute(select(Delivery.id).where(Delivery.dedupe_key == key)).first() is not None
    )


def ever_held(session: Session, student_id: int, mentor_id: int) -> bool:
    """Whether this mentor has held one of this student's requests."""
    query = select(Escalation.id).where(
        Escalation.person_id == student_id, Escalation.mentor_id == mentor_id
    )
    return session.execute(query.limit(1)).first() is not None
