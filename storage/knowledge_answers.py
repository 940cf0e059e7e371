"""Knowledge-base answers and their "Did this help?" outcome, for the admins' statistics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, insert, select, update
from sqlmodel import Session

from storage.tables import KnowledgeAnswer

_TABLE = KnowledgeAnswer.__table__


def record_answer(
    session: Session,
    *,
    person_id: int | None,
    entry_id: str | None,
    locale: str,
    channel: str,
    confidence: float,
    now: datetime,
) -> int:
    row = {
        "person_id": person_id,
        "entry_id": entry_id,
        "locale": locale,
        "channel": channel,
        "confidence": round(confidence, 4),
        "created_at": now,
    }
    return int(session.execute(insert(_TABLE).returning(_TABLE.c.id), row).scalar_one())


def record_feedback(
    session: Session, person_id: int, entry_id: str, helpful: bool, now: datetime
) -> bool:
    """The answer to "Did this help?" goes on the person's latest answer with that entry,
    once: a second press changes nothing."""
    latest = (
        select(func.max(KnowledgeAnswer.id))
        .where(KnowledgeAnswer.person_id == person_id, KnowledgeAnswer.entry_id == entry_id)
        .scalar_subquery()
    )
    result = session.execute(
        update(KnowledgeAnswer)
        .where(KnowledgeAnswer.id == latest, KnowledgeAnswer.helpful.is_(None))
        .values(helpful=helpful, feedback_at=now)
    )
    return bool(result.rowcount)


@dataclass(frozen=True, slots=True)
class EntryStats:
    entry_id: str | None
    answered: int
    helpful: int
    not_helpful: int


def entry_stats(session: Session, since: datetime) -> list[EntryStats]:
    """Per entry (None: "not sure"): answers given and the "Did this help?" outcomes."""
    helpful = func.sum(case((KnowledgeAnswer.helpful.is_(True), 1), else_=0))
    unhelpful = func.sum(case((KnowledgeAnswer.helpful.is_(False), 1), else_=0))
    query = (
        select(KnowledgeAnswer.entry_id, func.count(), helpful, unhelpful)
        .where(KnowledgeAnswer.created_at >= since)
        .group_by(KnowledgeAnswer.entry_id)
        # "Not sure" (no entry) first, the same on SQLite and PostgreSQL.
        .order_by(KnowledgeAnswer.entry_id.is_not(None), KnowledgeAnswer.entry_id)
    )
    rows = session.execute(query)
    return [EntryStats(e, int(n), int(h or 0), int(u or 0)) for e, n, h, u in rows]
