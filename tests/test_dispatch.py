"""Deliveries through the dispatcher, on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import Runtime, build_runtime
from bot.channels.base import Begin, SendResult
from bot.clock import FakeClock
from bot.messages import Outbound, Reply
from storage.claims import claim_due
from storage.outbox import add_replies, outbound_from_row
from storage.tables import Delivery, OptOut, Person
from tests.conftest import make_settings
from tests.fakes import RecordingSender

EVENING_NY = datetime(2026, 11, 24, 1, 30, tzinfo=UTC)  # 20:30 in New York
World = tuple[Runtime, RecordingSender, FakeClock]


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    clock = FakeClock(EVENING_NY)
    sms = RecordingSender("sms")
    runtime = build_runtime(make_settings(database_url), clock=clock, senders={"sms": sms})
    yield runtime, sms, clock
    runtime.db.close()


def queue(runtime: Runtime, phone: str, kind: str, text: str = "hello") -> int:
    def write(session: object) -> int:
        person = Person(
            role="student",
            time_zone="America/New_York",
            phone_e164=phone,
            created_at=runtime.clock.now(),
        )
        session.add(person)  # type: ignore[attr-defined]
        session.flush()  # type: ignore[attr-defined]
        [out] = add_replies(
            session,
            person_id=person.id,
            channel="sms",  # type: ignore[arg-type]
            address=phone,
            replies=[Reply(text)],
            now=runtime.clock.now(),
            kind=kind,
        )
        return out.delivery_id

    return runtime.db.run_sync(write)


def status(runtime: Runtime, delivery_id: int) -> tuple[str, datetime, str | None]:
    row = runtime.db.run_sync(lambda s: s.get(Delivery, delivery_id))
    return row.status, row.due_at, row.error


async def test_nudge_held_overnight_then_sent_in_the_morning(world: World) -> None:
    runtime, sms, clock = world
    nudge = queue(runtime, "+12125550100", "nudge")
    assert await runtime.dispatcher.drain() == 0
    state, due, reason = status(runtime, nudge)
    assert (state, reason) == ("held", "quiet_hours")
    assert due == datetime(2026, 11, 24, 14, 0, tzinfo=UTC)
    clock.advance(timedelta(hours=12))
    assert await runtime.dispatcher.drain() == 0 and sms.sent == []
    clock.set(due)
    assert await runtime.dispatcher.drain() == 1
    assert status(runtime, nudge)[0] == "sent" and len(sms.sent) == 1


async def test_opted_out_number_gets_nothing_but_the_confirmation(world: World) -> None:
    runtime, sms, _clock = world
    phone = "+12125550111"
    runtime.db.run_sync(lambda s: s.add(OptOut(phone_e164=phone, updated_at=EVENING_NY)))
    reply = queue(runtime, phone, "reply")
    confirmation = queue(runtime, phone, "compliance", "You are unsubscribed.")
    await runtime.dispatcher.drain()
    assert status(runtime, reply)[0] == "suppressed"
    assert status(runtime, confirmation)[0] == "sent"
    assert sms.texts_to(phone) == ["You are unsubscribed."]


async def test_a_row_is_never_sent_twice_by_both_paths(world: World) -> None:
    runtime, sms, _clock = world
    reply = queue(runtime, "+12125550122", "reply")
    await runtime.dispatcher.drain()
    row = runtime.db.run_sync(lambda s: s.get(Delivery, reply))
    await runtime.dispatcher.deliver([outbound_from_row(row)])
    assert len(sms.sent) == 1


async def test_failed_send_is_retried_later_not_lost(world: World) -> None:
    runtime, sms, clock = world
    sms.answers.append(SendResult(ok=False, error="boom", retry=True))
    reply = queue(runtime, "+12125550133", "reply")
    await runtime.dispatcher.drain()
    assert status(runtime, reply)[0] == "pending"
    clock.advance(timedelta(minutes=1))
    await runtime.dispatcher.drain()
    assert status(runtime, reply)[0] == "sent" and len(sms.sent) == 2


def test_two_claimers_never_share_a_row(world: World) -> None:
    runtime, _sms, clock = world
    for i in range(40):
        queue(runtime, f"+1212555{i:04d}", "reply")
    first_session = runtime.db.session()
    first = first_session.__enter__()
    try:
        mine = claim_due(first, clock.now(), 25, ["sms"], "first")
        if runtime.db.dialect == "postgresql":
            theirs = runtime.db.run_sync(
                lambda s: claim_due(s, clock.now(), 25, ["sms"], "second")
            )
            assert {r.id for r in mine}.isdisjoint({r.id for r in theirs})
            assert len(theirs) == 15
    finally:
        first_session.__exit__(None, None, None)
    remaining = runtime.db.run_sync(lambda s: claim_due(s, clock.now(), 100, ["sms"], "third"))
    expected = 0 if runtime.db.dialect == "postgresql" else 15
    assert len(remaining) == expected
    assert runtime.db.run_sync(lambda s: len(list(s.execute(select(Delivery.id)).scalars()))) == 40


async def test_a_stop_after_the_claim_holds_back_a_nudge_but_not_an_answer(
    database_url: str,
) -> None:
    """Each call is judged again, except an answer in a chat, which no later STOP concerns."""
    from storage.chat_opt_outs import opt_out_chat
    from storage.tables import Identity

    class StopAtFirstCall(RecordingSender):
        async def send(self, outbound: Outbound, begin: Begin) -> SendResult:
            if not self.sent and not stopped:
                stopped.append(True)
                runtime.db.run_sync(lambda s: opt_out_chat(s, "telegram", "777", clock.now()))
            return await super().send(outbound, begin)

    stopped: list[bool] = []
    clock = FakeClock(datetime(2026, 11, 24, 15, 0, tzinfo=UTC))  # 10:00 in New York
    telegram = StopAtFirstCall("telegram")
    runtime = build_runtime(make_settings(database_url), clock=clock,
                            senders={"telegram": telegram})

    def write(session: Any) -> list[int]:
        person = Person(role="student", time_zone="America/New_York", created_at=clock.now())
        session.add(person)
        session.flush()
        session.add(Identity(person_id=person.id, channel="telegram", address="777",
                             created_at=clock.now()))
        return [add_replies(session, person_id=person.id, channel="telegram", address="777",
                            replies=[Reply(text)], now=clock.now(), kind=kind)[0].delivery_id
                for text, kind in (("Your answer", "reply"), ("A nudge", "nudge"))]

    answer, nudge = runtime.db.run_sync(write)
    try:
        await runtime.dispatcher.drain()
        assert stopped and [o.reply.text for o in telegram.sent] == ["Your answer"]
        assert status(runtime, answer)[0] == "sent"
        assert (status(runtime, nudge)[0], status(runtime, nudge)[2]) == ("suppressed",
                                                                          "opted_out")
    finally:
        runtime.db.close()
