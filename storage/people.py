"""People and their channel identities."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlmodel import Session

from storage.tables import Conversation, Identity, MessageLog, Person


def person_by_identity(session: Session, channel: str, address: str) -> Person | None:
    statement = (
        select(Person)
        .join(Identity, Identity.person_id == Person.id)
        .where(Identity.channel == channel, Identity.address == address)
    )
    return session.execute(statement).scalars().first()


def create_person(
    session: Session,
    channel: str,
    address: str,
    now: datetime,
    *,
    locale: str | None = None,
    display_name: str | None = None,
) -> Person:
    person = Person(role="student", locale=locale, display_name=display_name, created_at=now)
    session.add(person)
    session.flush()
    session.add(Identity(person_id=person.id, channel=channel, address=address, created_at=now))
    return person


def link_identity(
    session: Session, person_id: int, channel: str, address: str, now: datetime
) -> bool:
    """Attach an address unless someone already owns it (a shared phone stays shared)."""
    owner = session.execute(
        select(Identity.person_id).where(Identity.channel == channel, Identity.address == address)
    ).scalar()
    if owner is not None:
        return owner == person_id
    session.add(Identity(person_id=person_id, channel=channel, address=address, created_at=now))
    return True


def identities_of(session: Session, person_id: int) -> list[Identity]:
    return list(session.execute(select(Identity).where(Identity.person_id == person_id)).scalars())


def message_count(session: Session, person_id: int) -> int:
    statement = (
        select(func.count()).select_from(MessageLog).where(MessageLog.person_id == person_id)
    )
    return int(session.execute(statement).scalar() or 0)


def erase_personal_data(session: Session, person_id: int, now: datetime) -> None:
    """Forget a person: profile blanked, identities, messages and conversation removed."""
    session.execute(delete(Identity).where(Identity.person_id == person_id))
    session.execute(delete(Conversation).where(Conversation.person_id == person_id))
    session.execute(
        update(MessageLog)
        .where(MessageLog.person_id == person_id)
        .values(text=None, person_id=None)
    )
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


def person_by_lms_id(session: Session, lms_id: str) -> Person | None:
    statement = select(Person).where(Person.lms_id == lms_id, Person.erased_at.is_(None))  # type: ignore[union-attr]
    return session.execute(statement).scalars().first()


def move_identity(
    session: Session, channel: str, address: str, person_id: int, now: datetime
) -> None:
    """Point an address at another person (a deep link proved who is behind the chat)."""
    session.execute(
        delete(Identity).where(Identity.channel == channel, Identity.address == address)
    )
    session.add(Identity(person_id=person_id, channel=channel, address=address, created_at=now))


def set_reachable(session: Session, channel: str, address: str, reachable: bool) -> None:
    session.execute(
        update(Identity)
        .where(Identity.channel == channel, Identity.address == address)
        .values(reachable=reachable)
    )
