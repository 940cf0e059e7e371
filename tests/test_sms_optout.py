"""STOP, START, HELP, PAUSE by SMS, end to end; opt-outs checked again at send time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.clock import FakeClock
from storage.tables import OptOut
from tests.postgres_server import database_for, on_both_databases
from tests.sms_world import SmsWorld, sms_world

pytestmark = pytest.mark.e2e
NOON_NY = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)
KIM = "+12125550177"
LEE = "+12125550188"


@pytest.fixture
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SmsWorld]:
    async with sms_world(database_for(request, tmp_path), FakeClock(NOON_NY)) as w:
        yield w


def opt_out(world: SmsWorld, phone: str) -> OptOut | None:
    return world.db(lambda s: s.get(OptOut, phone))


@on_both_databases()
async def test_stop_confirms_once_cancels_pending_and_a_broadcast_sends_nothing(
    world: SmsWorld,
) -> None:
    kim = world.add_person(KIM)
    pending = world.queue(KIM, "Tomorrow: test prep.", person_id=kim)
    await world.text(KIM, "STOP")
    await world.emu.wait_for(lambda: len(world.emu.messages_to(KIM)) == 1)
    assert "unsubscribed" in world.bodies_to(KIM)[0]
    assert world.delivery(pending).status == "cancelled"
    await world.text(KIM, "stop texting me")  # a second opt-out: no second confirmation
    broadcast = [world.queue(p, "Campus closed today.", kind="broadcast") for p in (KIM, LEE)]
    await world.runtime.dispatcher.drain()
    assert world.delivery(broadcast[0]).status == "suppressed"
    assert world.delivery(broadcast[1]).status in ("sent", "delivered")
    assert len(world.emu.messages_to(KIM)) == 1 and len(world.emu.messages_to(LEE)) == 1


async def test_a_shared_phone_suppresses_everyone_who_shares_it(world: SmsWorld) -> None:
    student = world.add_person(KIM)
    parent = world.add_person(KIM, role="parent")
    await world.text(KIM, "unsubscribe")
    for_student = world.queue(KIM, "Nudge for the student.", person_id=student)
    for_parent = world.queue(KIM, "Digest for the parent.", kind="digest", person_id=parent)
    await world.runtime.dispatcher.drain()
    assert world.delivery(for_student).status == "suppressed"
    assert world.delivery(for_parent).status == "suppressed"
    await world.emu.wait_for(lambda: len(world.emu.messages_to(KIM)) >= 1)
    assert world.bodies_to(KIM) == [world.bodies_to(KIM)[0]]  # the confirmation only
    assert "unsubscribed" in world.bodies_to(KIM)[0]


@on_both_databases()
async def test_opt_out_is_checked_again_at_send_time(world: SmsWorld) -> None:
    planned = world.queue(KIM, "Planned before the opt-out.")
    # The opt-out arrives by another path (say, an import) after planning, without cancelling.
    world.db(lambda s: s.add(OptOut(phone_e164=KIM, source="import", updated_at=NOON_NY)))
    await world.runtime.dispatcher.drain()
    assert world.delivery(planned).status == "suppressed"
    assert world.emu.messages_to(KIM) == []


async def test_help_answers_who_we_are_and_how_to_stop_even_when_opted_out(
    world: SmsWorld,
) -> None:
    await world.text(KIM, "STOP")
    await world.text(KIM, "HELP")
    await world.emu.wait_for(lambda: len(world.emu.messages_to(KIM)) == 2)
    help_text = world.bodies_to(KIM)[1]
    assert "Mentorbot" in help_text and "STOP" in help_text


@on_both_databases()
async def test_start_and_yes_opt_back_in(world: SmsWorld) -> None:
    await world.text(KIM, "STOP")
    await world.text(KIM, "START")
    assert opt_out(world, KIM).opted_out is False  # type: ignore[union-attr]
    await world.text(KIM, "stop")
    await world.text(KIM, "Yes")
    assert opt_out(world, KIM).opted_out is False  # type: ignore[union-attr]
    nudge = world.queue(KIM, "Welcome back.")
    await world.runtime.dispatcher.drain()
    assert world.delivery(nudge).status in ("sent", "delivered")
    await world.emu.wait_for(lambda: len(world.emu.messages_to(KIM)) == 5)
    assert "subscribed again" in world.bodies_to(KIM)[1]


async def test_yes_is_an_ordinary_answer_when_not_opted_out(world: SmsWorld) -> None:
    await world.text(KIM, "yes")
    assert opt_out(world, KIM) is None
    await world.emu.wait_for(lambda: len(world.emu.messages_to(KIM)) >= 1)
    assert "subscribed again" not in world.bodies_to(KIM)[0]


async def test_pause_silences_nudges_for_two_weeks_but_not_replies(world: SmsWorld) -> None:
    await world.text(KIM, "PAUSE")
    row = opt_out(world, KIM)
    assert row is not None and not row.opted_out
    assert row.paused_until == NOON_NY + timedelta(days=14)
    nudge = world.queue(KIM, "A nudge.")
    reply = world.queue(KIM, "A reply.", kind="reply")
    await world.runtime.dispatcher.drain()
    assert world.delivery(nudge).status == "suppressed"
    assert world.delivery(reply).status in ("sent", "delivered")
    world.clock.advance(timedelta(days=15))
    later = world.queue(KIM, "Two weeks later.")
    await world.runtime.dispatcher.drain()
    assert world.delivery(later).status in ("sent", "delivered")


async def test_start_after_pause_resumes_nudges_and_yes_does_not(world: SmsWorld) -> None:
    await world.text(KIM, "PAUSE")
    await world.text(KIM, "yes")  # an ordinary answer: the pause stays
    row = opt_out(world, KIM)
    assert row is not None and row.paused_until is not None
    await world.text(KIM, "START")
    await world.emu.wait_for(lambda: any("on again" in b for b in world.bodies_to(KIM)))
    row = opt_out(world, KIM)
    assert row is not None and row.paused_until is None and not row.opted_out
    nudge = world.queue(KIM, "A nudge after START.")
    await world.runtime.dispatcher.drain()
    assert world.delivery(nudge).status in ("sent", "delivered")
