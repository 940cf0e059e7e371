"""Quiet hours for SMS, end to end on the injected clock: held, then sent inside the window."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest
from pydantic import ValidationError

from bot.clock import FakeClock
from tests.conftest import make_settings
from tests.sms_world import sms_world

pytestmark = pytest.mark.e2e
EVENING_NY = datetime(2026, 11, 24, 1, 30, tzinfo=UTC)  # 20:30 in New York (Monday)
NY = "+12125550100"
IDAHO = "+12085550100"  # area code 208 spans Boise (Mountain) and Los Angeles (Pacific)


async def test_a_message_due_at_20_30_is_held_to_9_next_day(sqlite_url: str) -> None:
    clock = FakeClock(EVENING_NY)
    async with sms_world(sqlite_url, clock) as world:
        nudge = world.queue(NY, "Evening nudge.")
        assert await world.runtime.dispatcher.drain() == 0
        held = world.delivery(nudge)
        morning = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)  # 9:00 in New York
        assert (held.status, held.due_at, held.error) == ("held", morning, "quiet_hours")
        clock.set(datetime(2026, 11, 24, 13, 59, tzinfo=UTC))
        assert await world.runtime.dispatcher.drain() == 0
        clock.set(morning)
        assert await world.runtime.dispatcher.drain() == 1
        [sent] = world.emu.messages_to(NY)
        assert sent.validity_period == 36000  # 11 h left, capped at Twilio's maximum


async def test_replies_to_someone_who_just_wrote_still_go_at_night(sqlite_url: str) -> None:
    async with sms_world(sqlite_url, FakeClock(EVENING_NY)) as world:
        await world.text(NY, "hi")
        await world.emu.wait_for(lambda: len(world.emu.messages_to(NY)) >= 1)


async def test_a_multi_zone_area_code_waits_for_the_window_everywhere(sqlite_url: str) -> None:
    # 9:30 in Boise is 8:30 in Los Angeles: not yet in every zone of area code 208.
    clock = FakeClock(datetime(2026, 11, 24, 16, 30, tzinfo=UTC))
    async with sms_world(sqlite_url, clock) as world:
        nudge = world.queue(IDAHO, "Morning nudge.")
        await world.runtime.dispatcher.drain()
        held = world.delivery(nudge)
        assert held.status == "held"
        assert held.due_at == datetime(2026, 11, 24, 17, 0, tzinfo=UTC)  # 9:00 Pacific


async def test_an_undecidable_zone_is_held_for_review(sqlite_url: str) -> None:
    async with sms_world(sqlite_url, FakeClock(EVENING_NY)) as world:
        nudge = world.queue("+18005550100", "Toll-free has no zone.")
        await world.runtime.dispatcher.drain()
        assert (world.delivery(nudge).status, world.delivery(nudge).error) == (
            "review",
            "zone_unknown",
        )


async def test_the_configured_window_is_used(sqlite_url: str) -> None:
    clock = FakeClock(datetime(2026, 11, 24, 14, 30, tzinfo=UTC))  # 9:30 in New York
    window = {"send_window_start": "10:00", "send_window_end": "17:00"}
    async with sms_world(sqlite_url, clock, twilio=window) as world:
        assert world.runtime.dispatcher.policy.window.start == time(10)
        nudge = world.queue(NY, "Window from settings.")
        await world.runtime.dispatcher.drain()
        assert world.delivery(nudge).due_at == datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


def test_a_window_wider_than_8_to_21_is_refused(sqlite_url: str) -> None:
    with pytest.raises(ValidationError, match="wider than the legal"):
        make_settings(sqlite_url, twilio={"send_window_start": "07:30"})
