"""Escalations to a human: one open record per person; a new trigger joins the open one.

Lifecycle: open → offered → taken → released / resolved / expired. Taking is one conditional
UPDATE (status still open or offered), so of two mentors pressing Take at once, in one process
or several, exactly one wins. While taken, the student's conversation is in mode "human": the
engine relays instead of running flows and the send-time policy holds nudges.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, insert, select, update
from sqlmodel import Session

from storage.tables import Conversation, Escalation
from storage.upsert import insert_ignore

OPEN_STATUSES = ("open", "offered", "taken")
WAITING_STATUSES = ("open", "offered")
PRIORITIES = ("normal", "urgent")


@dataclass(frozen=True, slots=True)
class Raised:
    id: int
    priority: str
    joined: bool  # True: an open escalation already existed and this trigger joined it
    upgraded: bool = False  # joined and became urgent just now


def raise_escalation(
    session: Session,
    person_id: int,
    *,
    reason: str,
    priority: str,
    now: datetime,
    channel: str | None = None,
    address: str | None = None,
    tags: tuple[str, ...] = (),
) -> Raised:
    """Open an escalation, or add the reason (and a higher priority) to the open one."""
    if priority not in PRIORITIES:
        raise ValueError(f"unknown priority {priority!r}")
    existing = open_escalation(session, person_id)
    if existing is None:
        row = dict(
            person_id=person_id, status="open", priority=priority, reasons=[reason],
            tags=sorted(tags), channel=channel, address=address, offered_to=[], passed_by=[],
            breaches=0, created_at=now, updated_at=now, last_activity_at=now,
        )  # fmt: skip
        created = insert_ignore(session, Escalation.__table__, row)
        # Not created: another process opened one a moment ago (the partial unique index).
        existing = open_escalation(session, person_id)
        assert existing is not None
        if created:
            return Raised(existing.id or 0, priority, joined=False)
    return _join(session, existing, reason, priority, tags, now)


def _join(
    session: Session,
    row: Escalation,
    reason: str,
    priority: str,
    tags: tuple[str, ...],
    now: datetime,
) -> Raised:
    urgent = "urgent" in (row.priority, priority)
    values = {
        "reasons": [*row.reasons, reason] if reason not in row.reasons else row.reasons,
        "tags": sorted({*row.tags, *tags}),
        "priority": "urgent" if urgent else "normal",
        "updated_at": now,
    }
    session.execute(update(Escalation).where(Escalation.id == row.id).values(**values))
    upgraded = urgent and row.priority != "urgent"
    return Raised(row.id or 0, str(values["priority"]), joined=True, upgraded=upgraded)


_TABLE = Escalation.__table__
# Rows, not ORM objects: plain data for the caller (changes go through update()), and a
# fraction of the cost on the turn's hot path.
_OPEN_OF = select(_TABLE).where(
    _TABLE.c.person_id == bindparam("person_id"), _TABLE.c.status.in_(OPEN_STATUSES)
)
_BY_ID = select(_TABLE).where(_TABLE.c.id == bindparam("id"))


def open_escalation(session: Session, person_id: int) -> Escalation | None:
    row = session.connection().execute(_OPEN_OF, {"person_id": person_id}).first()
    return row  # type: ignore[return-value]


def get(session: Session, escalation_id: int) -> Escalation | None:
    return session.connection().execute(_BY_ID, {"id": escalation_id}).first()  # type: ignore[return-value]


def set_target(session: Session, escalation_id: int, due_at: datetime | None) -> None:
    session.execute(update(Escalation).where(Escalation.id == escalation_id).values(due_at=due_at))


def follow_student(session: Session, escalation_id: int, channel: str, address: str,
                   now: datetime) -> None:
    """The student wrote again: relays go to where they are now."""
    session.execute(
        update(Escalation)
        .where(Escalation.id == escalation_id)
        .values(channel=channel, address=address, last_activity_at=now)
    )


def offer(session: Session, escalation_id: int, mentor_ids: Sequence[int], now: datetime
          ) -> Escalation | None:  # fmt: skip
    """Record the offer; returns the request as it is now (None if it is gone)."""
    row = get(session, escalation_id)
    if row is None or not mentor_ids:
        return row
    offered = sorted({*row.offered_to, *mentor_ids})
    session.execute(
        update(Escalation)
        .where(Escalation.id == escalation_id, Escalation.status.in_(WAITING_STATUSES))
        .values(status="offered", offered_to=offered, updated_at=now)
    )
    return get(session, escalation_id)


def pass_offer(session: Session, escalation_id: int, mentor_id: int, now: datetime) -> None:
    row = get(session, escalation_id)
    if row is not None and mentor_id not in row.passed_by:
        session.execute(
            update(Escalation)
            .where(Escalation.id == escalation_id)
            .values(passed_by=[*row.passed_by, mentor_id], updated_at=now)
        )


def take(session: Session, escalation_id: int, mentor_id: int, now: datetime) -> bool:
    """True for the one mentor whose Take wins; everyone else gets False."""
    taken = session.execute(
        update(Escalation)
        .where(Escalation.id == escalation_id, Escalation.status.in_(WAITING_STATUSES))
        .values(status="taken", mentor_id=mentor_id, taken_at=now, updated_at=now,
                last_activity_at=now)
    )  # fmt: skip
    if not taken.rowcount:
        return False
    row = get(session, escalation_id)
    assert row is not None
    _set_mode(session, row.person_id, "human", now)
    return True


def close(
    session: Session, escalation_id: int, status: str, now: datetime, resolution: str | None
) -> Escalation | None:
    """Release, resolve or expire: the conversation goes back to the bot."""
    row = get(session, escalation_id)
    if row is None or row.status not in OPEN_STATUSES:
        return None
    session.execute(
        update(Escalation)
        .where(Escalation.id == escalation_id)
        .values(status=status, resolution=resolution, closed_at=now, updated_at=now)
    )
    _set_mode(session, row.person_id, "bot", now)
    return row


def mark_activity(session: Session, escalation_id: int, now: datetime, *, mentor: bool) -> None:
    values: dict[str, object] = {"last_activity_at": now}
    row = get(session, escalation_id)
    if mentor and row is not None and row.first_response_at is None:
        values["first_response_at"] = now
    session.execute(update(Escalation).where(Escalation.id == escalation_id).values(**values))


def record_breach(session: Session, escalation_id: int, due_at: datetime | None) -> None:
    session.execute(
        update(Escalation)
        .where(Escalation.id == escalation_id)
        .values(breaches=Escalation.breaches + 1, due_at=due_at)
    )


def waiting(session: Session, limit: int = 20) -> list[Escalation]:
    """Not yet taken: urgent first, then oldest first."""
    urgent_first = (Escalation.priority == "urgent").desc()
    query = (
        select(Escalation)
        .where(Escalation.status.in_(WAITING_STATUSES))
        .order_by(urgent_first, Escalation.created_at, Escalation.id)
        .limit(limit)
    )
    return _all(session, query)


def held_by(session: Session, mentor_id: int) -> list[Escalation]:
    query = (
        select(Escalation)
        .where(Escalation.mentor_id == mentor_id, Escalation.status == "taken")
        .order_by(Escalation.taken_at.desc(), Escalation.id.desc())
    )
    return _all(session, query)


def overdue(session: Session, now: datetime) -> list[Escalation]:
    query = select(Escalation).where(
        Escalation.status.in_(WAITING_STATUSES), Escalation.due_at <= now,
        Escalation.breaches < 2,
    )  # fmt: skip
    return _all(session, query)


def idle_holds(session: Session, cutoff: datetime) -> list[Escalation]:
    query = select(Escalation).where(
        Escalation.status == "taken", Escalation.last_activity_at <= cutoff
    )
    return _all(session, query)


def expire_waiting(session: Session, cutoff: datetime, now: datetime) -> int:
    """Requests nobody took since `cutoff` expire (no hold to end: they were never taken)."""
    expired = session.execute(
        update(Escalation)
        .where(Escalation.status.in_(WAITING_STATUSES), Escalation.created_at <= cutoff)
        .values(status="expired", closed_at=now, updated_at=now)
    )
    return int(expired.rowcount or 0)


def open_load(session: Session) -> dict[int, int]:
    """Conversations each mentor holds now."""
    query = (
        select(Escalation.mentor_id, func.count())
        .where(Escalation.status == "taken", Escalation.mentor_id.is_not(None))
        .group_by(Escalation.mentor_id)
    )
    return {int(m): int(n) for m, n in session.execute(query)}


def _all(session: Session, query: object) -> list[Escalation]:
    return list(session.execute(query).scalars())  # type: ignore[call-overload]


def _set_mode(session: Session, person_id: int, mode: str, now: datetime) -> None:
    changed = session.execute(
        update(Conversation)
        .where(Conversation.person_id == person_id)
        .values(mode=mode, updated_at=now)
    )
    if not changed.rowcount:
        row = {"person_id": person_id, "flow": "main", "state": "idle", "data": {},
               "version": 0, "mode": mode, "updated_at": now}  # fmt: skip
        session.execute(insert(Conversation.__table__), row)

