"""Counting for the reliability tests: where deliveries ended, lost and duplicated sends, rates."""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import select
from sqlmodel import Session

from storage.database import Database
from storage.tables import Delivery

# Rows something still has to move: due, held, leased, or in flight.
NOT_FINAL = frozenset({"pending", "held", "claimed", "sending"})
SENT = frozenset({"sent", "delivered"})


@dataclass(frozen=True)
class Ending:
    """Where a set of deliveries ended."""

    statuses: Counter[str]
    without_reason: int  # ended neither sent nor with an error text
    stuck: int  # still NOT_FINAL

    def line(self) -> str:
        return ",".join(f"{status}:{n}" for status, n in sorted(self.statuses.items()))


def ending(db: Database, ids: Iterable[int]) -> Ending:
    wanted = list(ids)

    def read(session: Session) -> list[tuple[str, str | None]]:
        found: list[tuple[str, str | None]] = []
        for start in range(0, len(wanted), 900):  # SQLite's bound parameter limit
            chunk = wanted[start : start + 900]
            query = select(Delivery.status, Delivery.error).where(Delivery.id.in_(chunk))  # type: ignore[union-attr]
            found += [(s, e) for s, e in session.execute(query).all()]
        return found

    rows = db.run_sync(read)
    statuses = Counter(status for status, _ in rows)
    without_reason = sum(1 for status, error in rows
                         if status not in SENT | NOT_FINAL and not error)  # fmt: skip
    stuck = sum(n for status, n in statuses.items() if status in NOT_FINAL)
    return Ending(statuses, without_reason, stuck)


def max_in_window(times: Iterable[float], width: float = 1.0) -> int:
    """The most events in any half-open window [t, t + width)."""
    ordered = sorted(times)
    best, start = 0, 0
    for end, moment in enumerate(ordered):
        while ordered[start] <= moment - width:
            start += 1
        best = max(best, end - start + 1)
    return best


@dataclass(frozen=True)
class Drained:
    rounds: int  # drains it took; `rounds` + 1 when rows were still left after the last one
    hung: bool  # a drain did not return within its deadline (it was cancelled)


async def drain_until_final(
    db: Database,
    drain: Callable[[], Awaitable[object]],
    advance: Callable[[timedelta], None],
    ids: list[int],
    rounds: int,
    deadline: float,
) -> Drained:
    """Drain; while rows are left to send, move the clock past any retry and drain again.
    A drain that has not returned after `deadline` seconds is cancelled: it hangs."""
    for done in range(1, rounds + 1):
        try:
            async with asyncio.timeout(deadline):
                await drain()
        except TimeoutError:
            return Drained(done, hung=True)
        if ending(db, ids).stuck == 0:
            return Drained(done, hung=False)
        advance(timedelta(hours=1))  # past the longest retry delay
    return Drained(rounds + 1, hung=False)


def _with_exception(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> Any:
    info = event.get("exc_info")
    if info:
        exc = info if isinstance(info, BaseException) else sys.exc_info()[1]
        event["exception"] = repr(exc)[:300]
    return event


@contextmanager
def logged_exceptions() -> Iterator[list[str]]:
    """Exceptions the code logged where it caught them (log.exception, exc_info=True), as
    "event: exception" lines; the list is filled when the block ends."""
    found: list[str] = []
    with structlog.testing.capture_logs(processors=[_with_exception]) as logs:
        yield found
    found += [f"{e.get('event')}: {e.get('exception', '')}" for e in logs
              if e.get("exc_info") or e.get("log_level") == "critical"]  # fmt: skip
