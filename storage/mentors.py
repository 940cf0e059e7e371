"""Mentors and admins as the escalation desk needs them: profiles, reachability, invitations,
private notes. Invitation tokens are random and single-use; only their SHA-256 is stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlmodel import Session

from storage.tables import Identity, Invitation, MentorNote, MentorProfile, Person
from storage.tokens import new_token, token_hash

INVITATION_PREFIX = "inv-"
# Where staff are reached, best first: Telegram is their console; the web chat works too.
STAFF_CHANNELS = ("telegram", "webchat", "console", "sms")


@dataclass(frozen=True, slots=True)
class MentorFacts:
    id: int
    name: str
    languages: tuple[str, ...]
    time_zone: str | None
    work_start: str
    work_end: str
    work_days: tuple[int, ...]
    capacity: int
    available: bool


def ensure_profile(session: Session, person_id: int, now: datetime, **fields: object) -> None:
    if session.get(MentorProfile, person_id) is None:
        session.add(MentorProfile(person_id=person_id, updated_at=now, **fields))
        session.flush()
    elif fields:
        session.execute(
            update(MentorProfile)
            .where(MentorProfile.person_id == person_id)
            .values(updated_at=now, **fields)
        )


def set_available(session: Session, person_id: int, available: bool, now: datetime) -> None:
    ensure_profile(session, person_id, now, available=available)


def mentors(session: Session) -> list[MentorFacts]:
    """Every mentor (role "mentor"), with default working facts when no profile exists yet."""
    query = (
        select(Person, MentorProfile)
        .outerjoin(MentorProfile, MentorProfile.person_id == Person.id)
        .where(Person.role == "mentor", Person.erased_at.is_(None))
        .order_by(Person.id)
    )
    return [_facts(p, m) for p, m in session.execute(query)]


def _facts(person: Person, profile: MentorProfile | None) -> MentorFacts:
    profile = profile or MentorProfile(person_id=person.id or 0, updated_at=person.created_at)
    languages = tuple(profile.languages) or ((person.locale,) if person.locale else ())
    return MentorFacts(
        person.id or 0, person.display_name or f"#{person.id}", languages, person.time_zone,
        profile.work_start, profile.work_end, tuple(profile.work_days), profile.capacity,
        profile.available,
    )  # fmt: skip


def staff_address(session: Session, person_id: int) -> tuple[str, str] | None:
    """The channel and address to reach a mentor or an admin on, or None."""
    rows = session.execute(
        select(Identity.channel, Identity.address).where(
            Identity.person_id == person_id, Identity.reachable.is_(True)
        )
    ).all()
    ranked = sorted(rows, key=lambda r: STAFF_CHANNELS.index(r[0]) if r[0] in STAFF_CHANNELS
                    else len(STAFF_CHANNELS))  # fmt: skip
    return (ranked[0][0], ranked[0][1]) if ranked else None


def admins(session: Session) -> list[int]:
    query = select(Person.id).where(Person.role == "admin", Person.erased_at.is_(None))
    return [int(i) for i in session.execute(query).scalars()]


def create_invitation(
    session: Session, role: str, name: str, lms_id: str | None, now: datetime, ttl: timedelta
) -> str:
    """A new single-use token; only its hash is stored."""
    token = new_token(INVITATION_PREFIX)
    session.add(Invitation(token_hash=token_hash(token), role=role, name=name, lms_id=lms_id,
                           created_at=now, expires_at=now + ttl))  # fmt: skip
    session.flush()
    return token


def redeem_invitation(session: Session, token: str, person_id: int, now: datetime
                      ) -> Invitation | None:  # fmt: skip
    """Mark the invitation used by this person, once; None when unknown, used or expired."""
    used = session.execute(
        update(Invitation)
        .where(Invitation.token_hash == token_hash(token), Invitation.used_at.is_(None),
               Invitation.expires_at > now)
        .values(used_at=now, used_by=person_id)
        .returning(Invitation.id)
    ).scalar()  # fmt: skip
    return session.get(Invitation, used) if used is not None else None


def add_note(session: Session, student_id: int, mentor_id: int, text: str, now: datetime) -> None:
    session.add(MentorNote(student_id=student_id, mentor_id=mentor_id, text=text, created_at=now))


def notes(session: Session, student_id: int, limit: int = 3) -> list[str]:
    query = (
        select(MentorNote.text)
        .where(MentorNote.student_id == student_id)
        .order_by(MentorNote.id.desc())
        .limit(limit)
    )
    return list(session.execute(query).scalars())
