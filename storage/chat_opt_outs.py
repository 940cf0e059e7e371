"""Opt-outs of one chat identity (Telegram, web chat): STOP, PAUSE and START said in that chat.

They cover the proactive messages of that chat only (nudges, broadcasts, digests, alerts):
answers to what the person writes still go, and so do the person's other channels. Phone
numbers are different: everyone who shares one is covered, so SMS keeps `opt_out` per number
(storage/sms.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlmodel import Session

from core.delivery import PROACTIVE_KINDS
from storage.tables import PENDING_STATUSES, Delivery, Identity


def chat_state(session: Session, channel: str, address: str) -> Identity | None:
    """The identity with its `opted_out` and `paused_until` (None: no such chat)."""
    query = select(Identity).where(Identity.channel == channel, Identity.address == address)
    return session.execute(query).scalars().first()


def _set(session: Session, channel: str, address: str, **values: object) -> None:
    session.execute(
        update(Identity)
        .where(Identity.channel == channel, Identity.address == address)
        .values(**values)
    )


def opt_out_chat(session: Session, channel: str, address: str, now: datetime) -> int:
    """Stop the chat's proactive messages, and cancel those waiting; returns cancelled.

    Cancelled rather than left to the send-time policy, so that a START before they are due
    does not release messages planned while the person did not want them (as on SMS)."""
    _set(session, channel, address, opted_out=True, paused_until=None)
    cancelled = session.execute(
        update(Delivery)
        .where(
            Delivery.channel == channel,
            Delivery.address == address,
            Delivery.kind.in_(PROACTIVE_KINDS),  # type: ignore[attr-defined]
            Delivery.status.in_(PENDING_STATUSES),  # type: ignore[attr-defined]
        )
        .values(status="cancelled", error="opted_out", updated_at=now)
    )
    return cancelled.rowcount or 0  # type: ignore[attr-defined]


def opt_in_chat(session: Session, channel: str, address: str) -> None:
    """START: the chat gets proactive messages again, after a STOP or a PAUSE."""
    _set(session, channel, address, opted_out=False, paused_until=None)


def pause_chat(session: Session, channel: str, address: str, now: datetime, days: int) -> datetime:
    until = now + timedelta(days=days)
    _set(session, channel, address, paused_until=until)
    return until
