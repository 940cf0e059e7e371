"""Students by SMS get the same flows; a phone given on Telegram makes SMS the same person."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.clock import FakeClock
from storage.tables import ConsentRecord, MessageLog
from tests.postgres_server import database_for, on_both_databases
from tests.sms_world import SmsWorld, sms_world
from tests.transcript import add_student

pytestmark = pytest.mark.e2e
NOON_NY = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)
ANA = "+14155552671"


@pytest.fixture
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SmsWorld]:
    async with sms_world(database_for(request, tmp_path), FakeClock(NOON_NY)) as w:
        yield w


@on_both_databases()
async def test_consent_flow_by_sms_with_numbered_answers(world: SmsWorld) -> None:
    add_student(world.runtime, "Ana", channel="sms", address=ANA)
    await world.text(ANA, "hi")
    await world.text(ANA, "(415) 555-2671")
    await world.emu.wait_for(lambda: len(world.emu.messages_to(ANA)) == 3)
    question = world.bodies_to(ANA)[-1]
    assert "Do you agree" in question and "Reply 1 for Yes, 2 for No, 3 for" in question
    await world.text(ANA, "1")
    decisions = world.db(lambda s: list(s.execute(select(ConsentRecord.decision)).scalars()))
    assert decisions == ["granted"]


async def test_phone_given_on_telegram_then_texting_in_is_the_same_person(
    world: SmsWorld,
) -> None:
    ana = add_student(world.runtime, "Ana", channel="telegram", address="tg-1")
    await ana.says("hi")
    await ana.says("415 555 2671")
    await ana.picks("yes")
    await world.text(ANA, "hello")
    people = world.db(lambda s: set(s.execute(select(MessageLog.person_id)).scalars()))
    assert len(people) == 1  # every message, both channels, one person
    await world.emu.wait_for(lambda: len(world.emu.messages_to(ANA)) == 1)
    assert "mentor bot" in world.bodies_to(ANA)[0]  # consent already given: not asked again
