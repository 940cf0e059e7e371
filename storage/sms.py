"""SMS state: the inbound inbox, status callbacks, and opt-outs per phone number."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlmodel import Session

from core.phones import phone_hash
from storage.people import set_reachable
from storage.tables import PENDING_STATUSES, Delivery, OptOut, SmsInbox, SmsStatusEvent
from storage.upsert import insert_ignore

# Twilio's lifecycle: a delivery only ever moves right; undelivered/failed are final.
STATUS_RANK = {
    "accepted": 0,
    "scheduled": 0,
    "queued": 0,
    "sending": 1,
    "sent": 2,
    "delivered": 3,
    "undelivered": 4,
    "failed": 4,
}
OPT_OUT_CODES = frozenset({21610, 30004})  # unsubscribed recipient; blocked (treated alike)
INVALID_CODES = frozenset({21211, 21614, 30005, 30006})


def store_inbound(
    session: Session, sid: str, from_number: str, to_number: str, body: str, now: datetime
) -> bool:
    """True if this MessageSid is new (a replayed webhook stores nothing)."""
    row = dict(
        message_sid=sid, from_number=from_number, to_number=to_number, body=body, received_at=now
    )
    return insert_ignore(session, SmsInbox.__table__, row) == 1


def inbound_row(session: Session, sid: str) -> SmsInbox | None:
    return session.execute(select(SmsInbox).where(SmsInbox.message_sid == sid)).scalars().first()


def mark_processed(session: Session, sid: str, now: datetime) -> None:
    session.execute(update(SmsInbox).where(SmsInbox.message_sid == sid).values(processed_at=now))


def unprocessed_sids(session: Session, older_than: datetime, limit: int = 100) -> list[str]:
    """Inbound rows a crash left behind (the background task never finished)."""
    query = (
        select(SmsInbox.message_sid)
        .where(SmsInbox.processed_at.is_(None), SmsInbox.received_at < older_than)  # type: ignore[union-attr]
        .order_by(SmsInbox.id)
        .limit(limit)
    )
    return list(session.execute(query).scalars())


def apply_status(
    session: Session,
    *,
    sid: str,
    status: str,
    error_code: int | None,
    delivery_id: int | None,
    now: datetime,
) -> bool:
    """Record one status callback; False if it was a duplicate. Never moves a delivery back."""
    event = dict(
        message_sid=sid,
        status=status,
        error_code=error_code,
        delivery_id=delivery_id,
        received_at=now,
    )
    if insert_ignore(session, SmsStatusEvent.__table__, event) == 0:
        return False
    row = _delivery_for(session, sid, delivery_id)
    if row is None:
        return True
    if STATUS_RANK.get(status, -1) > STATUS_RANK.get(row.status, -1):
        error = f"twilio {error_code}" if error_code else row.error
        session.execute(
            update(Delivery)
            .where(Delivery.id == row.id)
            .values(status=status, external_id=sid, error=error, updated_at=now)
        )
    if error_code in OPT_OUT_CODES:
        opt_out(session, row.address, now, source=f"carrier_{error_code}")
    elif error_code in INVALID_CODES:
        set_reachable(session, "sms", row.address, False)
    return True


def _delivery_for(session: Session, sid: str, delivery_id: int | None) -> Delivery | None:
    if delivery_id is not None:
        row = session.get(Delivery, delivery_id)
        # The id comes from our own signed callback URL; the SID must not contradict it.
        if row is not None and row.external_id in (None, sid):
            return row
        return None
    query = select(Delivery).where(Delivery.external_id == sid, Delivery.channel == "sms")
    return session.execute(query).scalars().first()


def opt_outs_for(session: Session, phones: Iterable[str]) -> dict[str, OptOut]:
    """Each number's opt-out, found by the number or by its hash: erasure re-keys an opt-out
    by the hash once nobody holds the number, and it must go on suppressing that number."""
    keys = {phone: (phone, phone_hash(phone)) for phone in phones if phone}
    if not keys:
        return {}
    wanted = {key for pair in keys.values() for key in pair}
    query = select(OptOut).where(OptOut.phone_e164.in_(wanted))  # type: ignore[attr-defined]
    found = {row.phone_e164: row for row in session.execute(query).scalars()}
    result: dict[str, OptOut] = {}
    for phone, pair in keys.items():
        rows = [found[key] for key in pair if key in found]
        if rows:  # both only if written twice by other paths: the latest change decides
            result[phone] = max(rows, key=lambda row: row.updated_at)
    return result


def opt_out_row(session: Session, phone: str) -> OptOut | None:
    return opt_outs_for(session, [phone]).get(phone)


def is_opted_out(session: Session, phone: str) -> bool:
    row = opt_out_row(session, phone)
    return row is not None and row.opted_out


def _row_to_change(session: Session, phone: str, now: datetime) -> OptOut:
    """The number's own row to write. A row kept by the hash moves back under the number:
    the number is in use again (it wrote to us, or we texted it), so nothing is left to hide,
    and one row per number means the two can never disagree."""
    row = session.get(OptOut, phone)
    if row is not None:
        return row
    hashed = session.get(OptOut, phone_hash(phone))
    if hashed is None:
        return OptOut(phone_e164=phone, opted_out=False, updated_at=now)
    moved = OptOut(
        phone_e164=phone,
        opted_out=hashed.opted_out,
        paused_until=hashed.paused_until,
        source=hashed.source,
        updated_at=hashed.updated_at,
    )
    session.delete(hashed)
    session.flush()
    return moved


def opt_out(session: Session, phone: str, now: datetime, *, source: str) -> int:
    """Opt the number out of all SMS and cancel what is waiting for it; returns cancelled."""
    row = _row_to_change(session, phone, now)
    row.opted_out, row.source, row.updated_at = True, source, now
    session.add(row)
    session.flush()
    cancelled = session.execute(
        update(Delivery)
        .where(
            Delivery.channel == "sms",
            Delivery.address == phone,
            Delivery.status.in_(PENDING_STATUSES),  # type: ignore[attr-defined]
        )
        .values(status="cancelled", error="opted_out", updated_at=now)
    )
    return cancelled.rowcount or 0  # type: ignore[attr-defined]


def opt_in(session: Session, phone: str, now: datetime, *, source: str) -> None:
    row = _row_to_change(session, phone, now)
    row.opted_out, row.paused_until, row.source, row.updated_at = False, None, source, now
    session.add(row)


def pause(session: Session, phone: str, now: datetime, days: int) -> datetime:
    row = _row_to_change(session, phone, now)
    row.paused_until, row.updated_at = now + timedelta(days=days), now
    if row.source is None:
        row.source = "sms_pause"
    session.add(row)
    return row.paused_until
