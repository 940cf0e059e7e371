"""TwilioSender through the dispatcher over real HTTP: errors mapped, never sent twice."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from bot.channels.sms_segments import segment_info
from bot.clock import FakeClock
from bot.messages import Choice, Reply
from storage import claims
from storage.outbox import add_replies
from storage.tables import Delivery, Identity, OptOut
from tests.postgres_server import database_for, on_both_databases
from tests.sms_world import SmsWorld, sms_world

pytestmark = pytest.mark.e2e
NOON_NY = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)  # a Tuesday, 12:00 in New York
BEN = "+12125550142"


@pytest.fixture
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SmsWorld]:
    async with sms_world(database_for(request, tmp_path), FakeClock(NOON_NY)) as w:
        yield w


@on_both_databases()
async def test_21610_on_send_opts_the_number_out_and_suppresses(world: SmsWorld) -> None:
    world.emu.opt_out(BEN)
    first = world.queue(BEN, "Class starts at 5.")
    later = world.queue(BEN, "Assignment due Friday.", kind="broadcast")
    await world.runtime.dispatcher.drain()
    assert world.delivery(first).status == "suppressed"
    assert "21610" in (world.delivery(first).error or "")
    assert world.delivery(later).status in ("suppressed", "cancelled")
    opt = world.db(lambda s: s.get(OptOut, BEN))
    assert opt is not None and opt.opted_out and opt.source == "carrier_21610"
    world.emu.opt_in(BEN)  # even if Twilio would take it now, our list decides
    again = world.queue(BEN, "Another nudge.")
    await world.runtime.dispatcher.drain()
    assert world.delivery(again).status == "suppressed" and world.emu.messages_to(BEN) == []


@pytest.mark.parametrize("mark", ["mark_invalid", "landline"])
async def test_invalid_numbers_become_unreachable_without_retry(
    world: SmsWorld, mark: str
) -> None:
    phone = "+15005550009" if mark == "landline" else BEN  # 21614 magic number, or 21211
    if mark == "mark_invalid":
        world.emu.mark_invalid(phone)
    world.add_person(phone)
    row = world.queue(phone, "hello", kind="reply")
    await world.runtime.dispatcher.drain()
    assert world.delivery(row).status == "failed"
    reachable = world.db(
        lambda s: s.execute(select(Identity.reachable).where(Identity.address == phone)).scalar()
    )
    assert reachable is False
    world.clock.advance(timedelta(minutes=5))
    assert await world.runtime.dispatcher.drain() == 0


@on_both_databases()
async def test_429_is_retried_after_a_back_off_and_sent_once(world: SmsWorld) -> None:
    world.emu.inject("429", times=2)
    row = world.queue(BEN, "hello", kind="reply")
    await world.runtime.dispatcher.drain()
    assert world.emu.counters["http_429"] == 2
    # The emulator's "delivered" callback may land before the drain records "sent": either
    # state means sent once (the callback race, not a second send).
    assert world.delivery(row).status in ("sent", "delivered")
    assert len(world.emu.messages_to(BEN)) == 1


@on_both_databases()
async def test_timeout_after_create_is_looked_up_not_resent(world: SmsWorld) -> None:
    world.emu.inject("timeout_after_create")
    row = world.queue(BEN, "Your class starts soon.", kind="reply")
    await world.runtime.dispatcher.drain()
    [created] = world.emu.messages_to(BEN)
    assert world.emu.counters["lists"] >= 1
    assert (world.delivery(row).status, world.delivery(row).external_id) in {
        ("sent", created.sid),
        ("delivered", created.sid),
    }
    world.clock.advance(timedelta(minutes=5))
    await world.runtime.dispatcher.drain()
    assert len(world.emu.messages_to(BEN)) == 1


def left_in_flight_by_a_dead_process(world: SmsWorld, row: int) -> None:
    """As a kill -9 during the call leaves it: in flight, leased by a process that is gone."""
    call_started = world.clock.now() - claims.SEND_LEASE - timedelta(seconds=5)
    values = dict(status=claims.SENDING, lease_owner="dead:1:x", updated_at=call_started)
    world.db(lambda s: s.execute(update(Delivery).where(Delivery.id == row).values(**values)))


async def test_a_crash_during_the_call_is_resolved_by_lookup_not_resent(
    world: SmsWorld,
) -> None:
    row = world.queue(BEN, "Sent just before the crash.", kind="reply")
    await world.runtime.dispatcher.drain()
    [created] = world.emu.messages_to(BEN)
    await world.until(lambda: world.delivery(row).status == "delivered")  # callbacks done
    left_in_flight_by_a_dead_process(world, row)
    await world.runtime.dispatcher.drain()
    assert world.delivery(row).status in ("sent", "delivered")
    assert world.delivery(row).external_id == created.sid and world.emu.counters["lists"] == 1
    assert world.delivery(row).meta[claims.IN_DOUBT]
    assert len(world.emu.messages_to(BEN)) == 1


async def test_a_crash_before_twilio_created_it_sends_it_once(world: SmsWorld) -> None:
    row = world.queue(BEN, "Never reached Twilio.", kind="reply")
    left_in_flight_by_a_dead_process(world, row)
    await world.runtime.dispatcher.drain()
    [created] = world.emu.messages_to(BEN)
    assert world.emu.counters["lists"] == 1  # looked first, found nothing, then created
    assert world.delivery(row).external_id == created.sid


async def test_dropped_answer_is_found_too(world: SmsWorld) -> None:
    world.emu.inject("drop_after_create")
    row = world.queue(BEN, "Dropped answer.", kind="reply")
    await world.runtime.dispatcher.drain()
    [created] = world.emu.messages_to(BEN)
    assert world.delivery(row).external_id == created.sid


@on_both_databases()
async def test_500_with_nothing_created_is_retried_later_once(world: SmsWorld) -> None:
    world.emu.inject("500")
    row = world.queue(BEN, "After a 500.", kind="reply")
    await world.runtime.dispatcher.drain()
    assert world.delivery(row).status == "pending" and world.emu.messages_to(BEN) == []
    world.clock.advance(timedelta(minutes=1))
    await world.runtime.dispatcher.drain()
    assert world.delivery(row).status in ("sent", "delivered")
    assert len(world.emu.messages_to(BEN)) == 1


async def test_choices_are_numbered_and_long_texts_fit_three_segments(world: SmsWorld) -> None:
    long_text = "Here is everything about coaching. " * 20

    def write(session: object) -> list[int]:
        replies = [Reply("Ready?", (Choice("yes", "Yes"), Choice("no", "No"))), Reply(long_text)]
        outs = add_replies(
            session, person_id=None, channel="sms", address=BEN, replies=replies,  # type: ignore[arg-type]
            now=world.clock.now(), meta={"locale": "en"},
        )  # fmt: skip
        return [o.delivery_id for o in outs]

    ids = world.db(write)  # type: ignore[arg-type]
    await world.runtime.dispatcher.drain()
    choice, long = world.emu.messages_to(BEN)
    assert choice.body == "Ready?\nReply 1 for Yes, 2 for No"
    assert long.segments <= 3 and "/sms/m/" in long.body
    for delivery_id, sent in zip(ids, (choice, long), strict=True):
        row = world.delivery(delivery_id)
        assert (row.segments, row.encoding) == (sent.segments, segment_info(sent.body).encoding)


async def test_full_text_link_shows_the_whole_message(world: SmsWorld) -> None:
    import aiohttp

    row = world.queue(BEN, "word " * 200, kind="reply")
    await world.runtime.dispatcher.drain()
    [sent] = world.emu.messages_to(BEN)
    link = sent.body.split()[-1].replace("https://mentorbot.example", world.local_url)
    async with aiohttp.ClientSession() as http, http.get(link) as response:
        assert response.status == 200
        assert await response.text() == world.delivery(row).text


async def test_validity_period_ends_with_the_send_window(world: SmsWorld) -> None:
    world.clock.set(datetime(2026, 11, 25, 0, 30, tzinfo=UTC))  # 19:30 in New York
    world.queue(BEN, "Evening nudge.")
    await world.runtime.dispatcher.drain()
    [sent] = world.emu.messages_to(BEN)
    assert sent.validity_period == 30 * 60
