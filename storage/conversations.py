"""Conversation state, saved with an optimistic version check."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from storage.tables import Conversation

_TABLE = Conversation.__table__
_LOAD = select(
    _TABLE.c.flow, _TABLE.c.state, _TABLE.c.data, _TABLE.c.version, _TABLE.c.mode
).where(_TABLE.c.person_id == bindparam("person_id"))
_CREATE = insert(_TABLE)
_SAVE = (
    update(_TABLE)
    .where(_TABLE.c.person_id == bindparam("pid"), _TABLE.c.version == bindparam("expected"))
    .values(
        flow=bindparam("flow"),
        state=bindparam("state"),
        data=bindparam("data"),
        version=bindparam("expected") + 1,
        updated_at=bindparam("now"),
    )
)


class StaleConversation(RuntimeError):
    """Another process saved this conversation first; the caller retries the whole turn."""


@dataclass(slots=True)
class ConversationState:
    flow: str
    state: str
    data: dict[str, Any]
    version: int
    mode: str
    new: bool = False  # not stored yet: saving inserts it


def load_conversation(session: Session, person_id: int, now: datetime) -> ConversationState:
    found = session.connection().execute(_LOAD, {"person_id": person_id}).first()
    if found is not None:
        return ConversationState(
            found.flow, found.state, dict(found.data), found.version, found.mode
        )
    return ConversationState("onboarding", "start", {}, 0, "bot", new=True)


def save_conversation(
    session: Session,
    person_id: int,
    expected_version: int,
    *,
    flow: str,
    state: str,
    data: dict[str, Any],
    now: datetime,
    new: bool = False,
    contended: bool = True,
) -> None:
    if new:
        values = {
            "person_id": person_id,
            "flow": flow,
            "state": state,
            "data": data,
            "version": 1,
            "mode": "bot",
            "updated_at": now,
        }
        if not contended:  # a person created in this very transaction: nobody can race us
            session.connection().execute(_CREATE, values)
            return
        try:
            with session.begin_nested():
                session.connection().execute(_CREATE, values)
        except IntegrityError:
            raise StaleConversation(f"conversation {person_id} was created meanwhile") from None
        return
    params = {
        "pid": person_id,
        "expected": expected_version,
        "flow": flow,
        "state": state,
        "data": data,
        "now": now,
    }
    result = session.connection().execute(_SAVE, params)
    if result.rowcount != 1:
        raise StaleConversation(f"conversation {person_id} changed under us")
