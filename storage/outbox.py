"""Deliveries (the outbox): every outbound message is a row before it is sent."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, case, insert, or_, select, update
from sqlmodel import Session

from core.delivery import Decision, Verdict
from core.messages import Attachment, Choice, Outbound, Reply
from storage.claims import CLAIMED, IN_DOUBT
from storage.tables import Delivery


def _choices_json(reply: Reply) -> list[dict[str, str]]:
    rows = [{"id": c.id, "label": c.label} for c in reply.choices]
    if reply.request_phone:
        rows.append({"id": "__request_phone__", "label": ""})
    return rows


ATTACHMENT_KEY = "attachment"


def _attachment_json(reply: Reply) -> dict[str, dict[str, str]]:
    """Kept in the row's meta until sent (then dropped: see drop_attachments)."""
    file = reply.attachment
    if file is None:
        return {}
    data = base64.b64encode(file.data).decode()
    return {ATTACHMENT_KEY: {"name": file.name, "media_type": file.media_type, "data": data}}


def _attachment(meta: dict[str, Any]) -> Attachment | None:
    raw = meta.get(ATTACHMENT_KEY)
    if not isinstance(raw, dict):
        return None
    return Attachment(raw["name"], raw["media_type"], base64.b64decode(raw["data"]))


def reply_from_row(
    text: str, choices: Sequence[dict[str, str]], meta: dict[str, Any] | None = None
) -> Reply:
    request_phone = any(c["id"] == "__request_phone__" for c in choices)
    kept = tuple(Choice(c["id"], c["label"]) for c in choices if c["id"] != "__request_phone__")
    return Reply(text, kept, request_phone, _attachment(meta or {}))


def outbound_from_row(row: Delivery) -> Outbound:
    return Outbound(
        row.id or 0,
        row.channel,
        row.address,
        reply_from_row(row.text, row.choices, row.meta),
        row.person_id,
        row.kind,
        {k: v for k, v in row.meta.items() if k != ATTACHMENT_KEY},
    )


_TABLE = Delivery.__table__
_INSERT = insert(_TABLE).returning(_TABLE.c.id, sort_by_parameter_order=True)


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
    verdict: Verdict | None = None,
) -> list[Outbound]:
    """Record replies as deliveries; with a verdict they are already judged (and claimed)."""
    if not replies:
        return []
    status, due, error = _status_for(verdict, now)
    rows = [
        dict(
            person_id=person_id,
            channel=channel,
            address=address,
            kind=kind,
            text=reply.text,
            choices=_choices_json(reply),
            status=status,
            due_at=due,
            attempts=0,
            meta={**(meta or {}), **_attachment_json(reply)},
            error=error,
            created_at=now,
            updated_at=now,
        )
        for reply in replies
    ]
    ids = session.connection().execute(_INSERT, rows).scalars().all()
    admitted = status == CLAIMED
    return [
        Outbound(int(i), channel, address, reply, person_id, kind, dict(meta or {}), admitted)
        for i, reply in zip(ids, replies, strict=True)
    ]


# Set by a provider's status callback, which may arrive before we record the send itself.
_LATER_THAN_SENT = ("delivered", "undelivered", "failed")


def _status_for(verdict: Verdict | None, now: datetime) -> tuple[str, datetime, str | None]:
    if verdict is None:
        return "pending", now, None
    if verdict.decision is Decision.SEND:
        return CLAIMED, now, None  # leased by the turn's process, which sends it at once
    if verdict.decision is Decision.HOLD:
        return (
            ("held", verdict.until, verdict.reason)
            if verdict.until
            else ("review", now, verdict.reason)
        )
    return "suppressed", now, verdict.reason


_MARK_SENT = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("delivery_id"))
    .values(
        # A status callback may have moved the row past "sent" before we record the send.
        # (equalities, not IN: an expanding IN cannot be used in an executemany)
        status=case(
            (or_(*(_TABLE.c.status == s for s in _LATER_THAN_SENT)), _TABLE.c.status),
            else_="sent",
        ),
        sent_at=bindparam("now"),
        updated_at=bindparam("now"),
        external_id=bindparam("external_id"),
        attempts=_TABLE.c.attempts + 1,
        delivered_at=bindparam("delivered_at"),
    )
)


def mark_sent_many(
    session: Session, sent: Sequence[tuple[int, str | None, bool]], now: datetime
) -> None:
    """Record many successful sends in one statement (executemany): (id, external id,
    delivered on acceptance)."""
    if sent:
        params = [
            {
                "delivery_id": d,
                "external_id": e,
                "now": now,
                "delivered_at": now if delivered else None,
            }
            for d, e, delivered in sent
        ]
        session.connection().execute(_MARK_SENT, params)


def mark_sent(
    session: Session,
    delivery_ids: Sequence[int],
    now: datetime,
    external_id: str | None = None,
    *,
    delivered: bool = False,
) -> None:
    keep = Delivery.status.in_(_LATER_THAN_SENT)  # type: ignore[attr-defined]
    session.execute(
        update(Delivery)
        .where(Delivery.id.in_(delivery_ids))
        .values(  # type: ignore[attr-defined]
            status=case((keep, Delivery.status), else_="sent"),
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


def sent_since(
    session: Session, channel: str, address: str, since: datetime | None
) -> list[Delivery]:
    """What went out to an address from `since` on (inclusive), in the order it was sent.

    By send time, not by id: a delivery recorded early and sent late (a held nudge) still
    comes after what the reader has seen. The reader drops ids it already has."""
    conditions = [Delivery.channel == channel, Delivery.address == address,
                  Delivery.status == "sent"]  # fmt: skip
    if since is not None:
        conditions.append(Delivery.sent_at >= since)
    statement = select(Delivery).where(*conditions).order_by(Delivery.sent_at, Delivery.id)
    return list(session.execute(statement.limit(200)).scalars())


# Retries back off (30 s, 1 min, 2 min, ... at most an hour apart); after MAX_ATTEMPTS calls
# that could not complete the delivery fails with the last reason (about 3 hours in all).
FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=1)
MAX_ATTEMPTS = 10


def mark_retry(
    session: Session, delivery_id: int, now: datetime, error: str, *, in_doubt: bool = False
) -> None:
    """Due again after a back-off; `in_doubt`: the call may have gone out, so the next attempt
    looks for it first (`claims.IN_DOUBT`)."""
    found = session.execute(
        select(Delivery.attempts, Delivery.meta).where(Delivery.id == delivery_id)
    ).first()
    if found is None:
        return
    attempts, meta = found
    attempts += 1
    if attempts >= MAX_ATTEMPTS:
        reason = f"gave up after {attempts} attempts: {error}"
        session.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id)
            .values(status="failed", error=reason[:500], updated_at=now, attempts=attempts)
        )
        return
    delay = min(FIRST_RETRY * 2 ** (attempts - 1), LONGEST_RETRY)
    if in_doubt:
        meta = {**meta, IN_DOUBT: now.isoformat()}
    session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id)
        .values(
            status="pending",
            due_at=now + delay,
            error=error[:500],
            updated_at=now,
            attempts=attempts,
            lease_owner=None,
            meta=meta,
        )
    )


def set_encoding(session: Session, delivery_id: int, segments: int, encoding: str | None) -> None:
    """What the channel actually sent: segments and encoding of the final text (cost, audit)."""
    session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id)
        .values(segments=segments, encoding=encoding)
    )


def drop_attachments(session: Session, delivery_ids: Sequence[int]) -> None:
    """A sent file is not kept: the outbox would otherwise hold copies of exports and charts."""
    if not delivery_ids:
        return
    rows = session.execute(
        select(Delivery.id, Delivery.meta).where(Delivery.id.in_(delivery_ids))  # type: ignore[union-attr]
    )
    for delivery_id, meta in rows:
        if ATTACHMENT_KEY in meta:
            kept = {k: v for k, v in meta.items() if k != ATTACHMENT_KEY}
            session.execute(update(Delivery).where(Delivery.id == delivery_id).values(meta=kept))
