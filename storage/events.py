"""Learning events: stored once per sender's event id, read by the planner and the digests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from storage.tables import LearningEvent
from storage.upsert import insert_ignore


def record_events(session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Insert events; ones whose `event_id` is already stored are skipped. Returns rows written."""
    return insert_ignore(session, LearningEvent.__table__, list(rows))


def events_between(
    session: Session,
    person_id: int,
    start: datetime,
    end: datetime,
    types: Sequence[str] | None = None,
) -> list[LearningEvent]:
    query = select(LearningEvent).where(
        LearningEvent.person_id == person_id,
        LearningEvent.occurred_at >= start,
        LearningEvent.occurred_at < end,
    )
    if types:
        query = query.where(LearningEvent.type.in_(types))  # type: ignore[attr-defined]
    return list(session.execute(query.order_by(LearningEvent.occurred_at)).scalars())
