"""Retention: message texts older than the configured age are purged; proof of consent stays.

Rows are kept (statistics, delivery status and timing); only what people wrote or were sent
goes. Consent records are never purged for a living person (they are the current consent);
those left by an erasure go only after `consent_years` (4 at least, see bot/settings.py).
Works in batches so a first run over years of history does not hold one huge lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlmodel import Session

from storage.tables import ConsentRecord, Delivery, MessageLog, SmsInbox

BATCH = 5_000
_FINAL = ("sent", "delivered", "undelivered", "failed", "suppressed", "expired", "read")


@dataclass(frozen=True, slots=True)
class Purged:
    messages: int = 0
    deliveries: int = 0
    inbox: int = 0
    consents: int = 0

    @property
    def total(self) -> int:
        return self.messages + self.deliveries + self.inbox + self.consents


def purge(session: Session, now: datetime, *, message_days: int, consent_years: int) -> Purged:
    """One batch of each kind; call again while `total` is not 0."""
    cutoff = now - timedelta(days=message_days)
    consent_cutoff = now - timedelta(days=365 * consent_years + consent_years // 4)
    messages = select(MessageLog.id).where(
        MessageLog.created_at < cutoff,
        MessageLog.text.is_not(None),  # type: ignore[union-attr]
    )
    deliveries = select(Delivery.id).where(
        Delivery.created_at < cutoff,
        Delivery.status.in_(_FINAL),  # type: ignore[attr-defined]
        Delivery.text != "",
    )
    inbox = select(SmsInbox.id).where(
        SmsInbox.received_at < cutoff,
        SmsInbox.processed_at.is_not(None),  # type: ignore[union-attr]
    )
    consents = select(ConsentRecord.id).where(
        ConsentRecord.person_id.is_(None),
        ConsentRecord.created_at < consent_cutoff,  # type: ignore[union-attr]
    )
    return Purged(
        messages=_apply(session, MessageLog, messages, {"text": None}),
        deliveries=_apply(session, Delivery, deliveries, {"text": "", "choices": []}),
        inbox=_apply(session, SmsInbox, inbox, None),
        consents=_apply(session, ConsentRecord, consents, None),
    )


def _apply(session: Session, table: type, query: object, values: dict[str, object] | None) -> int:
    ids = list(session.execute(query.limit(BATCH)).scalars())  # type: ignore[attr-defined]
    if not ids:
        return 0
    key = table.id  # type: ignore[attr-defined]
    statement = delete(table) if values is None else update(table).values(**values)
    session.execute(statement.where(key.in_(ids)))
    return len(ids)
