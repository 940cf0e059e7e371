"""People and their channel identities."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlmodel import Session

from storage.tables import (
    Identity,
    MessageLog,
    Person,
)

_PERSON = Person.__table__
_IDENTITY = Identity.__table__
# Built once: the hot path reuses compiled statements instead of rebuilding them per message.
_BY_IDENTITY = (
    select(_PERSON)
    .join(_IDENTITY, _IDENTITY.c.person_id == _PERSON.c.id)
    .where(
        _IDENTITY.c.channel == bindparam("channel"), _IDENTITY.c.address == bindparam("address")
    )
)
_INSERT_PERSON = insert(_PERSON).returning(_PERSON)
_INSERT_IDENTITY = insert(_IDENTITY)


@dataclass(slots=True)
class PersonRow:
    """A person as the engine reads it: plain data, changed through `update_person`."""

    id: int
    role: str
    display_name: str | None
    locale: str | None
    time_zone: str | None
    lms_id: str | None
    program: str | None
    track: str | None
    grade: str | None
    cohort: str | None
    enrolled_at: datetime | None
    last_active_at: datetime | None
    under_13: bool
    phone_e164: str | None
    mentor_id: int | None
    created_at: datetime
    erased_at: datetime | None

    @classmethod
    def from_row(cls, row: Any) -> PersonRow:
        values = row._mapping
        return cls(**{name: values[name] for name in cls.__slots__})  # type: ignore[attr-defined]


def person_by_identity(session: Session, channel: str, address: str) -> PersonRow | None:
    row = session.connection().execute(_BY_IDENTITY, {"channel": channel, "address": address})
    found = row.first()
    return PersonRow.from_row(found) if found is not None else None


def create_person(
    session: Session,
    channel: str,
    address: str,
    now: datetime,
    *,
    locale: str | None = None,
    display_name: str | None = None,
) -> PersonRow:
    connection = session.connection()
    values = {
        "role": "student",
        "locale": locale,
        "display_name": display_name,
        "under_13": False,
        "created_at": now,
    }
    person = PersonRow.from_row(connection.execute(_INSERT_PERSON, values).one())
    identity = {
        "person_id": person.id,
        "channel": channel,
        "address": address,
        "reachable": True,
        "created_at": now,
    }
    connection.execute(_INSERT_IDENTITY, identity)
    return person


def update_person(session: Session, person: PersonRow, **changes: Any) -> None:
    """Change fields on the row and in the database together."""
    for name, value in changes.items():
        setattr(person, name, value)
    session.connection().execute(
        update(_PERSON).where(_PERSON.c.id == person.id).values(**changes)
    )


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


_IDENTITIES_OF = select(_IDENTITY).where(_IDENTITY.c.person_id == bindparam("pid"))
_MESSAGES_OF = (
    select(func.count())
    .select_from(MessageLog.__table__)
    .where(MessageLog.__table__.c.person_id == bindparam("pid"))
)


def identities_of(session: Session, person_id: int) -> list[Any]:
    """The person's channel identities (rows with the identity's columns)."""
    return list(session.connection().execute(_IDENTITIES_OF, {"pid": person_id}))


def message_count(session: Session, person_id: int) -> int:
    return int(session.connection().execute(_MESSAGES_OF, {"pid": person_id}).scalar() or 0)


def person_by_id(session: Session, person_id: int) -> PersonRow | None:
    found = session.connection().execute(select(_PERSON).where(_PERSON.c.id == person_id)).first()
    return PersonRow.from_row(found) if found is not None else None


def person_by_lms_id(session: Session, lms_id: str) -> PersonRow | None:
    statement = select(_PERSON).where(_PERSON.c.lms_id == lms_id, _PERSON.c.erased_at.is_(None))
    found = session.connection().execute(statement).first()
    return PersonRow.from_row(found) if found is not None else None


def move_identity(
    session: Session, channel: str, address: str, person_id: int, now: datetime
) -> list[str]:
    """Make the address the person's one identity on its channel (a deep link proved who is
    behind the chat): whoever had the address loses it, and so do the person's other addresses
    on that channel, which are returned so that they can be told."""
    others = delete(Identity).where(
        Identity.channel == channel, Identity.person_id == person_id, Identity.address != address
    )
    removed = list(session.execute(others.returning(Identity.address)).scalars())
    # Updated in place: the chat's own state (reachable, a STOP sent from it) stays with it.
    moved = session.execute(
        update(Identity)
        .where(Identity.channel == channel, Identity.address == address)
        .values(person_id=person_id)
    )
    if not moved.rowcount:  # type: ignore[attr-defined]
        session.add(Identity(person_id=person_id, channel=channel, address=address,
                             created_at=now))  # fmt: skip
    return removed


def set_reachable(session: Session, channel: str, address: str, reachable: bool) -> None:
    session.execute(
        update(Identity)
        .where(Identity.channel == channel, Identity.address == address)
        .values(reachable=reachable)
    )
