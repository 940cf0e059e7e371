"""SMS end to end: Twilio's Advanced Opt-Out (`OptOutType`: Twilio already answered, we record
and stay silent), no SMS ever to a student under 13, and an opt-out kept by the number's hash."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.clock import FakeClock
from handlers.phones import phone_hash
from storage.tables import Delivery, OptOut, SmsInbox
from tests.sms_world import SmsWorld, sms_world

pytestmark = pytest.mark.e2e
NOON_NY = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)
KIM = "+12125550177"
PARENT = "+12125550166"


@pytest.fixture
async def world(sqlite_url: str) -> AsyncIterator[SmsWorld]:
    async with sms_world(sqlite_url, FakeClock(NOON_NY)) as w:
        yield w


@pytest.fixture
async def advanced(world: SmsWorld) -> SmsWorld:
    """The Messaging Service has Advanced Opt-Out on: Twilio answers keywords itself."""
    world.emu.advanced_opt_out = True
    return world


def opt_outs(world: SmsWorld) -> list[tuple[str, bool]]:
    rows = world.db(lambda s: list(s.execute(select(OptOut)).scalars()))
    return [(r.phone_e164, r.opted_out) for r in rows]


def inbound_form(world: SmsWorld, index: int) -> dict[str, str]:
    """The form of the index-th inbound webhook Twilio posted."""
    return world.emu.inbound_posted[index].params


def ours(world: SmsWorld, phone: str) -> list[Delivery]:
    """What we queued for the number (Twilio's own keyword replies are not ours)."""
    return [d for d in world.deliveries_to(phone) if d.kind != "nudge"]


async def test_stop_twilio_answered_is_recorded_with_no_second_confirmation(
    advanced: SmsWorld,
) -> None:
    world = advanced
    kim = world.add_person(KIM)
    waiting = world.queue(KIM, "Tomorrow: test prep.", person_id=kim)
    await world.text(KIM, "STOP")
    assert inbound_form(world, 0)["OptOutType"] == "STOP"
    assert opt_outs(world) == [(KIM, True)]
    assert world.delivery(waiting).status == "cancelled"
    assert [to for to, _ in world.emu.keyword_replies] == [KIM]  # Twilio's one confirmation
    assert ours(world, KIM) == [] and world.emu.messages_to(KIM) == []
    inbox = world.db(lambda s: s.execute(select(SmsInbox)).scalars().one())
    assert inbox.processed_at is not None  # stored, and never left for the sweep


async def test_start_and_help_twilio_answered_get_no_text_of_ours(advanced: SmsWorld) -> None:
    world = advanced
    world.add_person(KIM)
    for word in ("STOP", "HELP", "START", "INFO"):
        await world.text(KIM, word)
    assert [form["OptOutType"] for form in (inbound_form(world, i) for i in range(4))] == [
        "STOP", "HELP", "START", "HELP",
    ]  # fmt: skip
    assert opt_outs(world) == [(KIM, False)]
    assert ours(world, KIM) == [] and world.emu.messages_to(KIM) == []
    nudge = world.queue(KIM, "Welcome back.")
    await world.runtime.dispatcher.drain()
    assert world.delivery(nudge).status in ("sent", "delivered")


async def test_twilios_own_keyword_decides_even_one_we_do_not_know(advanced: SmsWorld) -> None:
    world = advanced
    world.emu.opt_out_keywords["STOP"] = world.emu.opt_out_keywords["STOP"] | {"ARRET"}
    world.add_person(KIM)
    await world.text(KIM, "arret")
    assert opt_outs(world) == [(KIM, True)] and ours(world, KIM) == []


async def test_yes_twilio_answered_is_still_an_answer_to_our_question(advanced: SmsWorld) -> None:
    world = advanced
    world.add_person(KIM)
    await world.text(KIM, "yes")
    assert inbound_form(world, 0)["OptOutType"] == "START"
    assert opt_outs(world) == []  # nothing to opt back into
    assert ours(world, KIM) != []  # the flows answered it


async def test_without_advanced_opt_out_we_confirm_ourselves(world: SmsWorld) -> None:
    world.add_person(KIM)
    await world.text(KIM, "STOP")
    assert "OptOutType" not in inbound_form(world, 0)
    await world.emu.wait_for(lambda: len(world.emu.messages_to(KIM)) == 1)
    assert "unsubscribed" in world.bodies_to(KIM)[0]


async def test_no_sms_ever_to_a_student_under_13_but_the_parent_is_texted(
    world: SmsWorld,
) -> None:
    child = world.add_person(KIM, under_13=True)
    parent = world.add_person(PARENT, role="parent")
    nudge = world.queue(KIM, "A nudge for the child.", person_id=child)
    digest = world.queue(PARENT, "The weekly digest.", kind="digest", person_id=parent)
    await world.runtime.dispatcher.drain()
    assert (world.delivery(nudge).status, world.delivery(nudge).error) == (
        "suppressed", "under_13",
    )  # fmt: skip
    assert world.delivery(digest).status in ("sent", "delivered")
    await world.text(KIM, "hi")  # a child texting in gets no text back either
    await world.text(KIM, "STOP")

    def replies() -> list[Delivery]:
        return [d for d in world.deliveries_to(KIM) if d.id != nudge]

    await world.until(lambda: all(d.status != "pending" for d in replies()))  # judged by then
    assert replies() and {(d.status, d.error) for d in replies()} == {("suppressed", "under_13")}
    assert world.emu.messages_to(KIM) == []


async def test_an_opt_out_kept_by_the_hash_suppresses_the_number(world: SmsWorld) -> None:
    """After erasure, a number nobody holds keeps its opt-out under the number's hash."""
    world.db(lambda s: s.add(OptOut(phone_e164=phone_hash(KIM), source="sms_keyword",
                                    updated_at=NOON_NY)))  # fmt: skip
    broadcast = world.queue(KIM, "Campus closed today.", kind="broadcast")
    await world.runtime.dispatcher.drain()
    assert (world.delivery(broadcast).status, world.delivery(broadcast).error) == (
        "suppressed", "opted_out",
    )  # fmt: skip
    assert world.emu.messages_to(KIM) == []
    await world.text(KIM, "START")  # the number is someone's again: its row is keyed by it again
    assert opt_outs(world) == [(KIM, False)]
