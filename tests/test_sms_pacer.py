"""The SMS sender's pacer: spaced starts, and no burst when callers stalled together."""

from __future__ import annotations

import asyncio

import pytest

from bot.channels.sms_sender import Pacer


class StalledLoop:
    """A clock that only moves when told; sleepers wake when the test releases them, at least
    as late as they asked (as after an event-loop stall)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.released = asyncio.Event()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        until = self.now + seconds
        await self.released.wait()
        self.now = max(self.now, until)


async def starts(pacer: Pacer, loop: StalledLoop, callers: int) -> list[float]:
    times: list[float] = []

    async def call() -> None:
        await pacer.wait()
        times.append(loop.clock())

    tasks = [asyncio.create_task(call()) for _ in range(callers)]
    for _ in range(5):
        await asyncio.sleep(0)  # every caller has taken its slot and sleeps
    loop.now = 0.5  # the loop stalled past every slot
    loop.released.set()
    await asyncio.gather(*tasks)
    return times


async def test_callers_woken_late_together_keep_their_spacing() -> None:
    loop = StalledLoop()
    times = await starts(Pacer(50, clock=loop.clock, sleep=loop.sleep), loop, 5)
    assert times[0] == 0.0  # the first went at once, before the stall
    assert times[1:] == pytest.approx([0.5, 0.52, 0.54, 0.56])


async def test_segments_take_their_share_of_the_rate() -> None:
    loop = StalledLoop()
    loop.released.set()
    pacer = Pacer(10, clock=loop.clock, sleep=loop.sleep)
    marks = []
    for segments in (3, 1, 2):
        await pacer.wait(segments)
        marks.append(loop.clock())
    assert marks == pytest.approx([0.0, 0.3, 0.4])
