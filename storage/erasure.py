"""Erasure: forget one person in every table, in the caller's one transaction.

What stays is what the law asks us to keep and nothing that names the person:
- consent records: the phone's hash, purpose, decision, time and text version;
- an opt-out: re-keyed by the phone's hash when nobody else holds the number, so the
  number is still never texted again if it comes back;
- pseudonymous statistics: learning events (payload dropped), knowledge answers, and the
  deliveries' status and timing (texts, addresses, choices and meta blanked).
Texts other people received about the person (mentors' cards and relays, parents' digests)
are blanked too: they are the person's data as well.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, delete, func, or_, select, update
from sqlmodel import Session

from core.phones import phone_hash
from storage.tables import (
    Badge,
    ConsentRecord,
    Conversation,
    Delivery,
    Escalation,
    Goal,
    Guardian,
    Identity,
    Invitation,
    KnowledgeAnswer,
    LearningEvent,
    MentorNote,
    MentorProfile,
    MessageLog,
    OptOut,
    Person,
    SmsInbox,
    StudentLink,
    StudyPlan,
    StudyPrefs,
)

# Deliveries to staff about a student carry the student's id (bot/desk.py).
ABOUT_KEY = "about"
# A reply sent after the erasure (the goodbye) is blanked as soon as it is sent.
FORGET_AFTER_SEND = "forget_after_send"


@dataclass(frozen=True, slots=True)
class Traces:
    """Everything that can point at the person outside their own rows."""

    person_id: int
    first_name: str | None
    phones: frozenset[str]
    addresses: frozenset[tuple[str, str]]


def erase_person(session: Session, person_id: int, now: datetime) -> bool:
    """Forget a person; False when there is nobody (left) to forget."""
    person = session.get(Person, person_id)
    if person is None or person.erased_at is not None:
        return False
    traces = _traces(session, person)
    _strip_consent(session, person_id)
    _keep_opt_outs_hashed(session, traces)
    _blank_deliveries(session, traces)
    _blank_messages(session, traces)
    _drop_rows(session, traces)
    _blank_person(session, person_id, now)
    return True


def _traces(session: Session, person: Person) -> Traces:
    person_id = person.id or 0
    identities = session.execute(
        select(Identity.channel, Identity.address).where(Identity.person_id == person_id)
    ).all()
    consent_phones = session.execute(
        select(ConsentRecord.phone_e164).where(
            ConsentRecord.person_id == person_id,
            ConsentRecord.phone_e164.is_not(None),  # type: ignore[union-attr]
        )
    ).scalars()
    phones = {a for c, a in identities if c == "sms"} | set(consent_phones)
    if person.phone_e164:
        phones.add(person.phone_e164)
    name = (person.display_name or "").split()
    return Traces(
        person_id,
        name[0] if name else None,
        frozenset(phones),
        frozenset((c, a) for c, a in identities),
    )


def _strip_consent(session: Session, person_id: int) -> None:
    session.execute(
        update(ConsentRecord)
        .where(ConsentRecord.person_id == person_id)
        .values(
            person_id=None,
            phone_e164=None,
            channel=None,
            locale=None,
            source_message_id=None,
            actor="erased",
        )
    )


def _keep_opt_outs_hashed(session: Session, traces: Traces) -> None:
    """A number that opted out stays opted out, by its hash, once nobody holds it."""
    for phone in traces.phones:
        row = session.get(OptOut, phone)
        if row is None:
            continue
        if _still_held(session, phone, traces.person_id):
            continue
        hashed = session.get(OptOut, phone_hash(phone))
        if hashed is None:
            session.add(OptOut(phone_e164=phone_hash(phone), updated_at=row.updated_at))
            session.flush()
            hashed = session.get(OptOut, phone_hash(phone))
        if hashed is not None and hashed.updated_at <= row.updated_at:
            # The number's own row is the later word: it is what the hashed row keeps.
            hashed.opted_out, hashed.paused_until = row.opted_out, row.paused_until
            hashed.source, hashed.updated_at = row.source, row.updated_at
        session.delete(row)
    session.flush()


def _still_held(session: Session, phone: str, person_id: int) -> bool:
    """Someone else (a parent sharing the number, a sibling) still uses this phone."""
    holders = session.execute(
        select(func.count())
        .select_from(Person)
        .where(Person.phone_e164 == phone, Person.id != person_id)
    ).scalar()
    identities = session.execute(
        select(func.count())
        .select_from(Identity)
        .where(
            Identity.channel == "sms", Identity.address == phone, Identity.person_id != person_id
        )
    ).scalar()
    return bool(holders or identities)


_WAITING = ("planned", "pending", "held", "review")
# Blanked, and never sent blank: what was still waiting is suppressed.
_BLANK_DELIVERY = {
    "text": "",
    "address": "",
    "choices": [],
    "meta": {},
    "error": None,
    "status": case(
        (Delivery.status.in_(_WAITING), "suppressed"),  # type: ignore[attr-defined]
        else_=Delivery.status,
    ),
}


def _blank_deliveries(session: Session, traces: Traces) -> None:
    pid = traces.person_id
    about = or_(
        Delivery.person_id == pid,
        Delivery.meta[ABOUT_KEY].as_integer() == pid,
        Delivery.meta["student_id"].as_integer() == pid,  # parents' digests and alerts
        *(
            (Delivery.channel == channel) & (Delivery.address == address)
            for channel, address in traces.addresses
        ),
    )
    session.execute(update(Delivery).where(about).values(**_BLANK_DELIVERY))
    if traces.first_name:
        # Replies to staff that list students (/queue, /mine) name them without a tag.
        session.execute(
            update(Delivery)
            .where(
                Delivery.person_id.in_(_staff_ids()) | Delivery.person_id.is_(None),  # type: ignore[union-attr]
                Delivery.text.contains(traces.first_name, autoescape=True),  # type: ignore[attr-defined]
            )
            .values(**_BLANK_DELIVERY)
        )


def _staff_ids():  # type: ignore[no-untyped-def]
    return select(Person.id).where(Person.role.in_(("mentor", "admin")))  # type: ignore[union-attr]


def _blank_messages(session: Session, traces: Traces) -> None:
    session.execute(
        update(MessageLog)
        .where(MessageLog.person_id == traces.person_id)
        .values(text=None, person_id=None)
    )
    if traces.first_name:
        # What mentors wrote about or to the person ("Hi Ana, …") names them.
        session.execute(
            update(MessageLog)
            .where(
                MessageLog.person_id.in_(_staff_ids()),  # type: ignore[union-attr]
                MessageLog.text.contains(traces.first_name, autoescape=True),  # type: ignore[union-attr]
            )
            .values(text=None)
        )


def _drop_rows(session: Session, traces: Traces) -> None:
    pid = traces.person_id
    statements = (
        delete(Identity).where(Identity.person_id == pid),
        delete(Conversation).where(Conversation.person_id == pid),
        delete(Escalation).where(Escalation.person_id == pid),
        delete(MentorNote).where(or_(MentorNote.student_id == pid, MentorNote.mentor_id == pid)),
        delete(MentorProfile).where(MentorProfile.person_id == pid),
        delete(Guardian).where(or_(Guardian.parent_id == pid, Guardian.student_id == pid)),
        delete(StudentLink).where(StudentLink.person_id == pid),
        # Goals (own words), plans, the plan day and badges: the student's own, all of it.
        delete(Goal).where(Goal.person_id == pid),
        delete(StudyPlan).where(StudyPlan.person_id == pid),
        delete(StudyPrefs).where(StudyPrefs.person_id == pid),
        delete(Badge).where(Badge.person_id == pid),
        delete(SmsInbox).where(
            or_(SmsInbox.from_number.in_(traces.phones), SmsInbox.to_number.in_(traces.phones))  # type: ignore[attr-defined]
        ),
        update(Escalation).where(Escalation.mentor_id == pid).values(mentor_id=None),
        update(Person).where(Person.mentor_id == pid).values(mentor_id=None),
        update(Invitation)
        .where(Invitation.used_by == pid)
        .values(name="", lms_id=None, used_by=None),
        update(LearningEvent).where(LearningEvent.person_id == pid).values(payload={}),
        update(KnowledgeAnswer).where(KnowledgeAnswer.person_id == pid).values(person_id=None),
    )
    for statement in statements:
        session.execute(statement)


def _blank_person(session: Session, person_id: int, now: datetime) -> None:
    session.execute(
        update(Person)
        .where(Person.id == person_id)
        .values(
            display_name=None,
            locale=None,
            time_zone=None,
            lms_id=None,
            program=None,
            track=None,
            grade=None,
            cohort=None,
            enrolled_at=None,
            last_active_at=None,
            phone_e164=None,
            mentor_id=None,
            erased_at=now,
        )
    )


def forget_sent(session: Session, delivery_ids: Iterable[int]) -> None:
    """Blank replies marked FORGET_AFTER_SEND once they are out (the goodbye after erasure)."""
    ids = list(delivery_ids)
    if ids:
        blank = {**_BLANK_DELIVERY, "status": Delivery.status}
        session.execute(update(Delivery).where(Delivery.id.in_(ids)).values(**blank))  # type: ignore[union-attr]
