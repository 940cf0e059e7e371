"""The admins' audit trail: append-only rows of who did what, when, with which parameters.

Parameters hold ids and settings, never names, phone numbers or message texts, so the trail can
be kept whole when someone is erased (their id points at an emptied row).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlmodel import Session

from storage.tables import AuditRecord


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    now: datetime,
    actor_id: int | None = None,
    params: dict[str, Any] | None = None,
) -> None:
    row = dict(actor=actor, actor_id=actor_id, action=action, params=params or {}, created_at=now)
    session.execute(insert(AuditRecord).values(**row))


def latest(session: Session, limit: int = 20) -> list[AuditRecord]:
    query = select(AuditRecord).order_by(AuditRecord.id.desc()).limit(limit)  # type: ignore[union-attr]
    return list(session.execute(query).scalars())
