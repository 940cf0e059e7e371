"""Send slots shared by every process: a provider's rate holds in total, not per process.

One row per rate key holds the next free start time. Reserving a call's start under several
keys (a chat's, then the bot's) is one transaction of upserts that push each key's next free
time by its interval; the row locks (PostgreSQL) or the single writer (SQLite) make concurrent
reservations queue up instead of sharing a slot. The caller sleeps until its start.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, update
from sqlmodel import Session

from storage.tables import SendSlot
from storage.upsert import dialect_insert

_TABLE = SendSlot.__table__


def reserve(session: Session, keys: Sequence[tuple[str, float]], now: float) -> float:
    """The start time (epoch seconds, >= now) of one call under every (key, interval)."""
    greatest = func.greatest if session.get_bind().dialect.name == "postgresql" else func.max
    start = now
    for key, interval in keys:
        insert = dialect_insert(session, _TABLE).values(key=key, next_at=start + interval)
        statement = insert.on_conflict_do_update(
            index_elements=[_TABLE.c.key],
            set_={"next_at": greatest(_TABLE.c.next_at, start) + interval},
        ).returning(_TABLE.c.next_at)
        start = max(start, float(session.execute(statement).scalar_one()) - interval)
    # A key reserved before a later one pushed the start: its slot moves to the real start.
    for key, interval in keys[:-1]:
        session.execute(
            update(_TABLE)
            .where(_TABLE.c.key == key)
            .values(next_at=greatest(_TABLE.c.next_at, start + interval))
        )
    return start


def forget_idle(session: Session, now: float, older_than: float = 3600.0) -> int:
    """Drop keys unused for a while (a broadcast leaves one per chat)."""
    result = session.execute(delete(_TABLE).where(_TABLE.c.next_at < now - older_than))
    return result.rowcount or 0  # type: ignore[attr-defined]
