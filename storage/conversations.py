"""Conversation state, saved with an optimistic version check."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlmodel import Session

from storage.tables import Conversation


class StaleConversation(RuntimeError):
    """Another process saved this conversation first; the caller retries the whole turn."""


def load_conversation(session: Session, person_id: int, now: datetime) -> Conversation:
    found = (
        session.execute(select(Conversation).where(Conversation.person_id == person_id))
        .scalars()
        .first()
    )
    if found is not None:
        return found
    conversation = Conversation(person_id=person_id, updated_at=now)
    session.add(conversation)
    session.flush()
    return conversation


def save_conversation(
    session: Session,
    person_id: int,
    expected_version: int,
    *,
    flow: str,
    state: str,
    data: dict[str, Any],
    now: datetime,
) -> None:
    result = session.execute(
        update(Conversation)
        .where(Conversation.person_id == person_id, Conversation.version == expected_version)
        .values(flow=flow, state=state, data=data, version=expected_version + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise StaleConversation(f"conversation {person_id} changed under us")
