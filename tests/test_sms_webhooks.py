"""Twilio webhooks over real HTTP: signatures, replays, status callbacks in and out of order."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.clock import FakeClock
from storage.consent import append_consent
from storage.tables import Delivery, MessageLog, Person, SmsInbox, SmsStatusEvent
from tests.postgres_server import database_for, on_both_databases
from tests.sms_world import PUBLIC, SmsWorld, sms_world

pytestmark = pytest.mark.e2e
ANA = "+14155550101"


@pytest.fixture
async def world(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[SmsWorld]:
    async with sms_world(database_for(request, tmp_path), clock) as w:
        yield w


def count(world: SmsWorld, table: type) -> int:
    return world.db(lambda s: s.execute(select(func.count()).select_from(table)).scalar_one())


def settled(world: SmsWorld) -> None:
    """Ana has answered her first-contact question already: each message gets one reply."""
    ana = world.add_person(ANA, display_name="Ana")
    world.db(lambda s: append_consent(
        s, person_id=ana, purpose="nudges", decision="declined", phone=None, channel="sms",
        text_version="t", locale="en", source_message_id=None, now=world.clock.now()))  # fmt: skip


@pytest.mark.parametrize("signature", ["missing", "wrong"])
async def test_forged_inbound_is_refused_and_nothing_is_stored(
    world: SmsWorld, signature: str
) -> None:
    status = await world.emu.send_inbound(
        f"{world.local_url}/sms/inbound", from_=ANA, to="+15005550006", body="hi",
        signature=signature,  # type: ignore[arg-type]
    )  # fmt: skip
    assert status == 403
    assert [count(world, t) for t in (SmsInbox, MessageLog, Person, Delivery)] == [0, 0, 0, 0]
    assert world.emu.messages == []


async def test_signature_is_checked_against_the_public_url_not_the_request_url(
    world: SmsWorld,
) -> None:
    local_signed = await world.emu.send_inbound(
        f"{world.local_url}/sms/inbound", signed_url=f"{world.local_url}/sms/inbound",
        from_=ANA, to="+15005550006", body="hi",
    )  # fmt: skip
    assert local_signed == 403 and count(world, SmsInbox) == 0


@on_both_databases()
async def test_replayed_webhook_is_one_message_with_one_answer(world: SmsWorld) -> None:
    settled(world)
    sid = await world.text(ANA, "hello")
    again = await world.emu.send_inbound(
        f"{world.local_url}/sms/inbound", from_=ANA, to="+15005550006", body="hello",
        message_sid=sid,
    )  # fmt: skip
    assert again == 200
    assert count(world, SmsInbox) == 1 and count(world, MessageLog) == 1
    await world.emu.wait_for(lambda: len(world.emu.messages_to(ANA)) >= 1)
    replies = world.deliveries_to(ANA)
    assert len(world.emu.messages_to(ANA)) == len(replies) == 1


async def test_answer_is_empty_twiml(world: SmsWorld) -> None:
    form = {"MessageSid": "SMdirect", "From": ANA, "To": "+15005550006", "Body": "hi"}
    validator = world.channel.validator
    signature = validator.compute_signature(f"{PUBLIC}/sms/inbound", form)
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{world.local_url}/sms/inbound", data=form, headers={"X-Twilio-Signature": signature}
        ) as response,
    ):
        body = await response.text()
        assert response.status == 200
        assert response.headers["content-type"].startswith("text/xml")
    assert body == '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


async def _one_reply(world: SmsWorld) -> Delivery:
    settled(world)
    await world.text(ANA, "hello")
    await world.emu.wait_for(lambda: len(world.emu.messages_to(ANA)) == 1)
    [row] = world.deliveries_to(ANA)
    await world.until(lambda: world.delivery(row.id or 0).external_id is not None)
    return row


@on_both_databases()
async def test_status_callbacks_move_the_delivery_forward(world: SmsWorld) -> None:
    row = await _one_reply(world)
    await world.until(lambda: world.delivery(row.id or 0).status == "delivered")
    done = world.delivery(row.id or 0)
    [sent] = world.emu.messages_to(ANA)
    assert done.external_id == sent.sid
    assert (done.segments, done.encoding) == (sent.segments, "GSM-7")


async def test_out_of_order_callbacks_never_move_back(world: SmsWorld) -> None:
    world.emu.inject("callback_out_of_order")
    row = await _one_reply(world)
    [sent] = world.emu.messages_to(ANA)
    await world.emu.wait_for(lambda: len(world.emu.callbacks_posted) >= 2)
    statuses = [p.params["MessageStatus"] for p in world.emu.callbacks_posted]
    assert statuses == ["delivered", "sent"]
    assert world.delivery(row.id or 0).status == "delivered"
    assert sent.sid == world.delivery(row.id or 0).external_id


async def test_duplicate_callbacks_are_recorded_once(world: SmsWorld) -> None:
    world.emu.inject("callback_duplicate")
    row = await _one_reply(world)
    await world.emu.wait_for(lambda: len(world.emu.callbacks_posted) >= 4)
    assert all(p.http_status == 200 for p in world.emu.callbacks_posted)
    events = world.db(lambda s: list(s.execute(select(SmsStatusEvent.status)).scalars()))
    assert sorted(events) == ["delivered", "sent"]
    assert world.delivery(row.id or 0).status == "delivered"


async def test_unsigned_callback_is_refused_and_not_applied(world: SmsWorld) -> None:
    world.emu.inject("callback_unsigned")
    row = await _one_reply(world)
    await world.emu.wait_for(lambda: len(world.emu.callbacks_posted) >= 2)
    assert {p.http_status for p in world.emu.callbacks_posted} == {403}
    await world.until(lambda: world.delivery(row.id or 0).status != "sending")
    assert world.delivery(row.id or 0).status == "sent"
    assert count(world, SmsStatusEvent) == 0


@on_both_databases()
async def test_carrier_failure_is_recorded_with_its_code(world: SmsWorld) -> None:
    world.emu.fail_delivery(ANA, 30006)
    row = await _one_reply(world)
    await world.until(lambda: world.delivery(row.id or 0).status == "undelivered")
    assert world.delivery(row.id or 0).error == "twilio 30006"
