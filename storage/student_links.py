"""Students' deep links (`t.me/<bot>?start=<token>`): each one random, single-use and expiring;
only the token's SHA-256 is stored.

Opening a link is one conditional UPDATE (unused, unexpired, the student not erased), so two
chats opening the same forwarded link at the same moment cannot both win, whether they are
served by one process or by several.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlmodel import Session

from storage.tables import Person, StudentLink
from storage.tokens import new_token, token_hash

# Distinct from storage.mentors.INVITATION_PREFIX: the turn tells the two kinds apart by it.
LINK_PREFIX = "stu-"


@dataclass(frozen=True, slots=True)
class NewLink:
    token: str
    expires_at: datetime
    person_id: int


def create_link(session: Session, lms_id: str, now: datetime, ttl: timedelta) -> NewLink | None:
    """A new link to the student with this LMS id; None when there is no such student."""
    student = session.execute(
        select(Person.id).where(
            Person.lms_id == lms_id, Person.role == "student", Person.erased_at.is_(None)
        )
    ).scalar()
    if student is None:
        return None
    token = new_token(LINK_PREFIX)
    session.add(
        StudentLink(
            token_hash=token_hash(token), person_id=student, created_at=now, expires_at=now + ttl
        )
    )
    session.flush()
    return NewLink(token, now + ttl, int(student))


def redeem_link(session: Session, token: str, now: datetime) -> int | None:
    """Mark the link used and return its student's id, once; None when the token is unknown,
    used or expired, or the student has been erased since."""
    live = select(Person.id).where(Person.erased_at.is_(None))
    return session.execute(
        update(StudentLink)
        .where(
            StudentLink.token_hash == token_hash(token),
            StudentLink.used_at.is_(None),
            StudentLink.expires_at > now,
            StudentLink.person_id.in_(live),  # type: ignore[attr-defined]
        )
        .values(used_at=now)
        .returning(StudentLink.person_id)
    ).scalar()


def link_owner(session: Session, token: str) -> int | None:
    """Whose link this is, used or not: a student opening their own link again is no attack."""
    return session.execute(
        select(StudentLink.person_id).where(StudentLink.token_hash == token_hash(token))
    ).scalar()
