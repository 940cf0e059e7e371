"""Deliveries (the outbox): every outbound message is a row before it is sent."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlmodel import Session

from bot.messages import Choice, Outbound, Reply
from storage.tables import Delivery


def _choices_json(reply: Reply) -> list[dict[str, str]]:
    rows = [{"id": c.id, "label": c.label} for c in reply.choices]
    if reply.request_phone:
        rows.append({"id": "__request_phone__", "label": ""})
    return rows


def reply_from_row(text: str, choices: Sequence[dict[str, str]]) -> Reply:
    request_phone = any(c["id"] == "__request_phone__" for c in choices)
    kept = tuple(Choice(c["id"], c["label"]) for c in choices if c["id"] != "__request_phone__")
    return Reply(text, kept, request_phone)


def outbound_from_row(row: Delivery) -> Outbound:
    return Outbound(
        row.id or 0,
        row.channel,
        row.address,
        reply_from_row(row.text, row.choices),
        row.person_id,
        row.kind,
        dict(row.meta),
    )


def add_replies(
    session: Session,
    *,
    person_id: int | None,
    channel: str,
    address: str,
    replies: Sequence[Reply],
    now: datetime,
    kind: str = "reply",
    meta: dict[str, Any] | None = None,
) -> list[Outbound]:
    """Record replies as pending deliveries; returns them ready for the fast path."""
    if not replies:
        return []
    rows = [
        dict(
            person_id=person_id,
            channel=channel,
            address=address,
            kind=kind,
            text=reply.text,
            choices=_choices_json(reply),
            status="pending",
            due_at=now,
            attempts=0,
            meta=meta or {},
            created_at=now,
            updated_at=now,
        )
        for reply in replies
    ]
    ids = session.execute(insert(Delivery).returning(Delivery.id), rows).scalars().all()
    return [
        Outbound(int(i), channel, address, reply, person_id, kind)
        for i, reply in zip(ids, replies, strict=True)
    ]


def mark_sent(
    session: Session,
    delivery_ids: Sequence[int],
    now: datetime,
    external_id: str | None = None,
    *,
    delivered: bool = False,
) -> None:
    session.execute(
        update(Delivery)
        .where(Delivery.id.in_(delivery_ids))
        .values(  # type: ignore[attr-defined]
            status="sent",
            sent_at=now,
            updated_at=now,
            external_id=external_id,
            attempts=Delivery.attempts + 1,
            delivered_at=now if delivered else None,
        )
    )


def mark_failed(
    session: Session, delivery_id: int, now: datetime, error: str, status: str = "failed"
) -> None:
    session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id)
        .values(status=status, error=error[:500], updated_at=now)
    )


def sent_after(session: Session, channel: str, address: str, after_id: int) -> list[Delivery]:
    statement = (
        select(Delivery)
        .where(
            Delivery.channel == channel,
            Delivery.address == address,
            Delivery.id > after_id,
            Delivery.status == "sent",
        )
        .order_by(Delivery.id)
        .limit(200)
    )
    return list(session.execute(statement).scalars())


def mark_retry(
    session: Session, delivery_id: int, now: datetime, due_at: datetime, error: str
) -> None:
    session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id)
        .values(
            status="pending",
            due_at=due_at,
            error=error[:500],
            updated_at=now,
            attempts=Delivery.attempts + 1,
        )
    )
