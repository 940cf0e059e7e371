"""Claims are leases: rows of a process that died are taken up again, on SQLite and PostgreSQL.

A process is "dead" here when its rows carry another owner and stay untouched past the lease;
the crash itself (kill -9 of real processes) is in tests/reliability/test_crash.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from bot.app import Runtime, build_runtime
from bot.channels.base import SendResult
from bot.clock import FakeClock
from bot.messages import Reply
from scheduler.policy import Decision, Verdict
from storage import claims
from storage.outbox import MAX_ATTEMPTS, add_replies
from storage.tables import Delivery
from tests.conftest import make_settings
from tests.fakes import RecordingSender

NOON_NY = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)
World = tuple[Runtime, RecordingSender, FakeClock]


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    clock = FakeClock(NOON_NY)
    chat = RecordingSender("telegram")
    runtime = build_runtime(make_settings(database_url), clock=clock, senders={"telegram": chat})
    yield runtime, chat, clock
    runtime.db.close()


def queue(runtime: Runtime, count: int, chat: str = "5001") -> list[int]:
    replies = [Reply(f"message {n}") for n in range(count)]
    written = runtime.db.run_sync(lambda s: add_replies(
        s, person_id=None, channel="telegram", address=chat, replies=replies,
        now=runtime.clock.now()))  # fmt: skip
    return [o.delivery_id for o in written]


def rows(runtime: Runtime, ids: list[int]) -> list[Delivery]:
    return [runtime.db.run_sync(lambda s, i=i: s.get(Delivery, i)) for i in ids]


def left_by_a_dead_process(runtime: Runtime, ids: list[int], status: str) -> None:
    """As a process that died would leave them: leased (or in flight) by another owner."""
    values = dict(status=status, lease_owner="dead:1:abc", updated_at=runtime.clock.now())
    runtime.db.run_sync(lambda s: s.execute(
        update(Delivery).where(Delivery.id.in_(ids)).values(**values)))  # type: ignore[union-attr]


async def test_rows_claimed_by_a_dead_process_are_sent_once_the_lease_lapses(world: World) -> None:
    runtime, chat, clock = world
    ids = queue(runtime, 3)
    left_by_a_dead_process(runtime, ids, claims.CLAIMED)
    assert await runtime.dispatcher.drain() == 0  # the lease still holds
    clock.advance(claims.CLAIM_LEASE + timedelta(seconds=1))
    assert await runtime.dispatcher.drain() == 3
    assert [r.status for r in rows(runtime, ids)] == ["sent"] * 3
    assert [o.reply.text for o in chat.sent] == ["message 0", "message 1", "message 2"]
    assert all(claims.IN_DOUBT not in r.meta for r in rows(runtime, ids))  # never called


async def test_a_row_in_flight_when_its_process_died_is_resent_marked_in_doubt(
    world: World,
) -> None:
    runtime, chat, clock = world
    [sending, claimed] = queue(runtime, 2)
    left_by_a_dead_process(runtime, [sending], claims.SENDING)
    left_by_a_dead_process(runtime, [claimed], claims.CLAIMED)
    clock.advance(claims.SEND_LEASE + timedelta(seconds=1))
    assert await runtime.dispatcher.drain() == 1  # in flight: lapsed; claimed: not yet
    [row] = rows(runtime, [sending])
    assert row.status == "sent" and claims.IN_DOUBT in row.meta
    assert rows(runtime, [claimed])[0].status == claims.CLAIMED
    clock.advance(claims.CLAIM_LEASE)
    assert await runtime.dispatcher.drain() == 1
    assert len(chat.sent) == 2


async def test_sqlite_start_up_takes_every_earlier_lease_back_at_once(
    world: World, database_url: str
) -> None:
    runtime, chat, clock = world
    if not database_url.startswith("sqlite"):
        # PostgreSQL: other processes may be alive, so only lapsed leases are taken.
        ids = queue(runtime, 2)
        left_by_a_dead_process(runtime, ids, claims.CLAIMED)
        await runtime.start()
        await runtime.dispatcher.drain()
        assert [r.status for r in rows(runtime, ids)] == [claims.CLAIMED] * 2
        await runtime.stop()
        return
    ids = queue(runtime, 2)
    left_by_a_dead_process(runtime, ids[:1], claims.CLAIMED)
    left_by_a_dead_process(runtime, ids[1:], claims.SENDING)
    clock.advance(timedelta(seconds=5))  # restarted a little later, long before any lease lapses
    await runtime.start()
    try:
        await runtime.dispatcher.drain()
        assert [r.status for r in rows(runtime, ids)] == ["sent", "sent"]
        assert len(chat.sent) == 2
    finally:
        await runtime.stop()


async def test_a_sender_whose_lease_was_taken_over_does_not_call_or_record(
    world: World,
) -> None:
    runtime, chat, clock = world
    [row_id] = queue(runtime, 1)
    [leased] = runtime.db.run_sync(
        lambda s: claims.claim_due(s, clock.now(), 10, ["telegram"], "slow-process")
    )
    clock.advance(claims.CLAIM_LEASE + timedelta(seconds=1))
    assert await runtime.dispatcher.drain() == 1  # recovered and sent by this process
    late = runtime.db.run_sync(
        lambda s: claims.start_sending(s, [row_id], clock.now(), "slow-process")
    )
    assert late == set() and leased.id == row_id and len(chat.sent) == 1
    gone = runtime.db.run_sync(lambda s: claims.release(s, [row_id], clock.now(), "slow-process"))
    assert gone == 0


async def test_turn_leased_replies_go_out_only_through_their_own_process(world: World) -> None:
    runtime, chat, clock = world
    outbound = runtime.db.run_sync(lambda s: add_replies(
        s, person_id=None, channel="telegram", address="5002", replies=[Reply("hi")],
        now=clock.now(), verdict=Verdict(Decision.SEND)))  # fmt: skip
    [row] = rows(runtime, [outbound[0].delivery_id])
    assert (row.status, row.lease_owner) == (claims.CLAIMED, None)
    assert await runtime.dispatcher.drain() == 0  # leased: the drain leaves it alone
    await runtime.dispatcher.deliver(outbound)
    [row] = rows(runtime, [row.id or 0])
    assert row.status == "sent" and row.lease_owner == runtime.dispatcher.owner
    assert len(chat.sent) == 1


async def test_retries_back_off_and_give_up_with_the_last_reason(world: World) -> None:
    runtime, chat, clock = world
    chat.answers.extend([SendResult(ok=False, error="503 busy", retry=True)] * MAX_ATTEMPTS)
    [row_id] = queue(runtime, 1)
    gaps = []
    for _ in range(MAX_ATTEMPTS):
        before = clock.now()
        assert await runtime.dispatcher.drain() == 1
        [row] = rows(runtime, [row_id])
        if row.status == "failed":
            break
        gaps.append(row.due_at - before)
        clock.set(row.due_at)
    assert row.status == "failed"
    assert row.error == f"gave up after {MAX_ATTEMPTS} attempts: 503 busy"
    assert gaps[:3] == [timedelta(seconds=30), timedelta(minutes=1), timedelta(minutes=2)]
    assert max(gaps) == timedelta(hours=1) and len(chat.sent) == MAX_ATTEMPTS
