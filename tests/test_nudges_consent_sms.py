"""A student in Spain texting us: coaching needs a US number, so after the coaching decline
they are asked once, by SMS, whether they want study reminders. End to end over Twilio."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.clock import FakeClock
from handlers.reminders import NUDGES_TEXT_VERSION
from storage.tables import ConsentRecord
from tests.sms_world import SmsWorld, sms_world
from tests.transcript import add_student

pytestmark = pytest.mark.e2e
NOON_MADRID = datetime(2026, 11, 24, 11, 0, tzinfo=UTC)
LUCIA = "+34612345678"


@pytest.fixture
async def world(sqlite_url: str) -> AsyncIterator[SmsWorld]:
    async with sms_world(sqlite_url, FakeClock(NOON_MADRID)) as w:
        yield w


async def says(world: SmsWorld, text: str, expect_total: int) -> list[str]:
    await world.text(LUCIA, text)
    await world.emu.wait_for(lambda: len(world.emu.messages_to(LUCIA)) == expect_total)
    return world.bodies_to(LUCIA)


def decisions(world: SmsWorld) -> list[tuple[object, ...]]:
    query = select(
        ConsentRecord.purpose, ConsentRecord.decision, ConsentRecord.channel,
        ConsentRecord.text_version,
    ).order_by(ConsentRecord.id)  # fmt: skip
    return [tuple(r) for r in world.db(lambda s: s.execute(query).all())]


def asked(world: SmsWorld) -> int:
    return sum("May we send you study reminders?" in b for b in world.bodies_to(LUCIA))


async def test_a_spanish_number_is_asked_about_reminders_once_after_the_decline(
    world: SmsWorld,
) -> None:
    add_student(world.runtime, "Lucía", channel="sms", address=LUCIA)
    await says(world, "hi", 2)  # coaching explained, the US number asked for
    bodies = await says(world, "+34 612 345 678", 3)
    assert "only text US phone numbers" in bodies[2] and "2 for No thanks" in bodies[2]
    bodies = await says(world, "2", 5)
    assert "won't be asked again" in bodies[3]
    question = bodies[4]
    assert "May we send you study reminders?" in question and "Msg & data rates" in question
    assert question.endswith("Reply 1 for Yes, 2 for No")
    bodies = await says(world, "1", 6)
    assert "we'll send you study reminders" in bodies[5]
    for n, later in enumerate(("hi", "thanks"), start=7):
        await says(world, later, n)
    assert asked(world) == 1
    assert decisions(world) == [
        ("coaching", "declined", "sms", world.runtime.settings.consent.text_version),
        ("nudges", "granted", "sms", NUDGES_TEXT_VERSION),
    ]


async def test_no_thanks_from_a_spanish_number_is_asked_about_reminders_too(
    world: SmsWorld,
) -> None:
    add_student(world.runtime, "Lucía", channel="sms", address=LUCIA)
    bodies = await says(world, "hi", 2)
    assert "1 for No thanks" in bodies[1]
    bodies = await says(world, "1", 4)  # never typed a number: the one texting is Spanish
    assert "May we send you study reminders?" in bodies[3]
    await says(world, "no", 5)
    assert [d[:2] for d in decisions(world)] == [("coaching", "declined"), ("nudges", "declined")]
