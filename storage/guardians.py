"""Parents linked to students (the guardian table), rows the digest planner reads, and a
parent's decisions for their children under 13."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session

from core.consent import NUDGES, Ward
from storage.consent import append_consent
from storage.people import link_identity
from storage.tables import ConsentRecord, Guardian, Identity, Person


@dataclass(frozen=True, slots=True)
class GuardianLink:
    guardian_id: int
    parent_id: int
    student_id: int
    created: bool


@dataclass(frozen=True, slots=True)
class ParentOfStudent:
    """One guardian link with what the digest needs to know about both people."""

    link: Guardian
    parent: Person
    student: Person


def student_by_ref(session: Session, ref: str) -> Person | None:
    """A student by LMS id, or by numeric person id."""
    query = select(Person).where(Person.role == "student", Person.erased_at.is_(None))  # type: ignore[union-attr]
    by_lms = session.execute(query.where(Person.lms_id == ref)).scalars().first()
    if by_lms is not None or not ref.isdigit():
        return by_lms
    return session.execute(query.where(Person.id == int(ref))).scalars().first()


def parent_by_phone(session: Session, phone: str) -> Person | None:
    query = select(Person).where(Person.role == "parent", Person.phone_e164 == phone)
    return session.execute(query).scalars().first()


def ensure_parent(
    session: Session,
    *,
    phone: str,
    name: str | None,
    locale: str | None,
    time_zone: str | None,
    now: datetime,
) -> Person:
    """The parent with this phone, created (with an SMS identity) if new."""
    parent = parent_by_phone(session, phone)
    if parent is None:
        parent = Person(
            role="parent",
            display_name=name,
            locale=locale,
            time_zone=time_zone,
            phone_e164=phone,
            created_at=now,
        )
        session.add(parent)
        session.flush()
        # A phone shared with the student stays the student's SMS identity (first owner).
        link_identity(session, parent.id or 0, "sms", phone, now)
    return parent


def link_guardian(
    session: Session, parent: Person, student: Person, weekday: int, now: datetime
) -> GuardianLink:
    query = select(Guardian).where(
        Guardian.parent_id == parent.id, Guardian.student_id == student.id
    )
    found = session.execute(query).scalars().first()
    if found is not None:
        found.digest_weekday = weekday
        session.add(found)
        return GuardianLink(found.id or 0, parent.id or 0, student.id or 0, False)
    link = Guardian(
        parent_id=parent.id or 0,
        student_id=student.id or 0,
        digest_weekday=weekday,
        created_at=now,
    )
    session.add(link)
    session.flush()
    return GuardianLink(link.id or 0, parent.id or 0, student.id or 0, True)


def all_links(session: Session) -> list[ParentOfStudent]:
    rows = session.execute(select(Guardian).order_by(Guardian.id)).scalars().all()
    ids = {r.parent_id for r in rows} | {r.student_id for r in rows}
    if not ids:
        return []
    people = {
        p.id: p
        for p in session.execute(select(Person).where(Person.id.in_(ids))).scalars()  # type: ignore[union-attr]
    }
    return [
        ParentOfStudent(r, people[r.parent_id], people[r.student_id])
        for r in rows
        if people[r.parent_id].erased_at is None and people[r.student_id].erased_at is None
    ]


def students_of(session: Session, parent_id: int) -> list[Person]:
    query = (
        select(Person)
        .join(Guardian, Guardian.student_id == Person.id)
        .where(Guardian.parent_id == parent_id)
        .order_by(Guardian.id)
    )
    return list(session.execute(query).scalars())


def sms_address_of(session: Session, person: Person) -> str | None:
    """Where a parent is texted: their phone (an SMS identity of theirs or a shared one)."""
    if person.phone_e164:
        return person.phone_e164
    query = select(Identity.address).where(
        Identity.person_id == person.id, Identity.channel == "sms"
    )
    return session.execute(query).scalars().first()


class NotTheirChild(ValueError):
    """Only a linked parent decides for a child, and only for a child under 13."""


def wards_of(session: Session, parent_id: int) -> tuple[Ward, ...]:
    """The parent's linked children under 13, each with their latest `nudges` decision."""
    children = session.execute(
        select(Person.id, Person.display_name)
        .join(Guardian, Guardian.student_id == Person.id)
        .where(
            Guardian.parent_id == parent_id,
            Person.under_13.is_(True),  # type: ignore[attr-defined]
            Person.erased_at.is_(None),  # type: ignore[union-attr]
        )
        .order_by(Guardian.id)
    ).all()
    if not children:
        return ()
    decisions = dict(
        session.execute(
            select(ConsentRecord.person_id, ConsentRecord.decision)
            .where(
                ConsentRecord.person_id.in_([c.id for c in children]),  # type: ignore[union-attr]
                ConsentRecord.purpose == NUDGES,
            )
            .order_by(ConsentRecord.id)  # later rows overwrite earlier ones: the latest wins
        ).all()
    )
    return tuple(Ward(c.id, c.display_name, decisions.get(c.id)) for c in children)


def record_for_child(
    session: Session,
    *,
    parent_id: int,
    child_id: int,
    purpose: str,
    decision: str,
    channel: str,
    text_version: str,
    locale: str | None,
    source_message_id: str | None,
    now: datetime,
) -> ConsentRecord:
    """A parent's decision, recorded on the child and naming the parent. No phone is kept on
    the child's record: the parent's number is theirs, and goes when they are erased."""
    if child_id not in {w.id for w in wards_of(session, parent_id)}:
        raise NotTheirChild(f"person {parent_id} may not decide for person {child_id}")
    record = append_consent(
        session,
        person_id=child_id,
        purpose=purpose,
        decision=decision,
        phone=None,
        channel=channel,
        text_version=text_version,
        locale=locale,
        source_message_id=source_message_id,
        now=now,
        actor=f"parent:{parent_id}",
    )
    session.flush()  # the same turn reads the children's decisions again
    return record
