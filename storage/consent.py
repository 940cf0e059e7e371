"""Consent records: append-only; the current state is derived from the latest per purpose."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlmodel import Session

from core.phones import phone_hash
from storage.tables import ConsentRecord

_TABLE = ConsentRecord.__table__
_CURRENT = (
    select(_TABLE.c.purpose, _TABLE.c.decision)
    .where(_TABLE.c.person_id == bindparam("person_id"))
    .order_by(_TABLE.c.id)
)


def current_consent(session: Session, person_id: int) -> dict[str, str]:
    rows = session.connection().execute(_CURRENT, {"person_id": person_id})
    return {purpose: decision for purpose, decision in rows}


_HISTORY = select(_TABLE).where(_TABLE.c.person_id == bindparam("pid")).order_by(_TABLE.c.id)


def consent_history(session: Session, person_id: int) -> list[Any]:
    """The person's consent records, oldest first (rows with the record's columns)."""
    return list(session.connection().execute(_HISTORY, {"pid": person_id}))


def append_consent(
    session: Session,
    *,
    person_id: int,
    purpose: str,
    decision: str,
    phone: str | None,
    channel: str | None,
    text_version: str | None,
    locale: str | None,
    source_message_id: str | None,
    now: datetime,
    actor: str = "self",
) -> ConsentRecord:
    record = ConsentRecord(
        person_id=person_id,
        purpose=purpose,
        decision=decision,
        phone_e164=phone,
        phone_hash=phone_hash(phone) if phone else None,
        channel=channel,
        text_version=text_version,
        locale=locale,
        source_message_id=source_message_id,
        actor=actor,
        created_at=now,
    )
    session.add(record)
    return record
