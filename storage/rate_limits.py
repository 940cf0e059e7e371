"""Fixed-window counters in the database, so a limit holds across processes and restarts.

One row per key (e.g. "bad_link:telegram:<chat>"): when the window started and how many events
it has seen. Counting is one atomic upsert: a new key, an expired window (restarted at 1) and
a running window (+1) are all decided by the database, so concurrent hits are never lost.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, select
from sqlmodel import Session

from storage.tables import RateLimit
from storage.upsert import dialect_insert

_TABLE = RateLimit.__table__


def hit(session: Session, key: str, now: datetime, window: timedelta, limit: int) -> bool:
    """Count one event under `key`; False once its window holds more than `limit` events."""
    insert = dialect_insert(session, _TABLE).values(key=key, window_start=now, count=1)
    stale = _TABLE.c.window_start <= now - window
    statement = insert.on_conflict_do_update(
        index_elements=[_TABLE.c.key],
        set_={
            "window_start": case(
                (stale, insert.excluded.window_start), else_=_TABLE.c.window_start
            ),
            "count": case((stale, 1), else_=_TABLE.c.count + 1),
        },
    ).returning(_TABLE.c.count)
    return int(session.execute(statement).scalar_one()) <= limit


def exceeded(session: Session, key: str, now: datetime, window: timedelta, limit: int) -> bool:
    """Whether `key` has used up its `limit` in the current window (counts nothing)."""
    count = session.execute(
        select(_TABLE.c.count).where(_TABLE.c.key == key, _TABLE.c.window_start > now - window)
    ).scalar()
    return (count or 0) >= limit
