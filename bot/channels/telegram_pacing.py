"""Outbound pacing for Telegram: smooth (no burst) and safe against a sliding-window counter.

Telegram counts accepted messages per sliding second (~30/s per bot, ~1/s per chat). A leaky
bucket of capacity N lets 2N through in the first second; plain spacing of 1/rate can still
overshoot when network jitter bunches requests up at the server. `Pacer` therefore enforces two
rules, both checkable on recorded schedules with an injected clock:

1. starts are spaced at least `window / rate` apart (smooth, no burst after idle time);
2. a new request starts only while fewer than `capacity` requests are *occupied*, where a request
   stays occupied from its start until `window` seconds after its answer arrived. The server
   accepted it somewhere between those two instants, so no server-side window can ever hold more
   than `capacity` of ours, whatever the latency.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable

MonotonicClock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class Pacer:
    """At most `rate` request starts per `window`, evenly spaced; FIFO among waiters."""

    def __init__(
        self,
        rate: float,
        *,
        window: float = 1.0,
        clock: MonotonicClock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.window = window
        self.interval = window / rate
        self.capacity = max(1, math.floor(rate * window))
        self._clock = clock
        self._sleep = sleep
        self._next_start = -math.inf
        self._in_flight = 0
        self._free_at: deque[float] = deque()  # answered requests: occupied until these times
        self._turn = asyncio.Lock()
        self._released = asyncio.Event()
        self.starts: list[float] | None = None  # set to [] to record start times (tests)

    async def acquire(self) -> None:
        async with self._turn:
            while True:
                now = self._clock()
                wait = self._wait_needed(now)
                if wait is None:
                    self._released.clear()
                    await self._released.wait()
                elif wait > 0:
                    await self._sleep(wait)
                else:
                    break
            # Keep to the grid when we woke up a little late (sleep overshoots would otherwise
            # add up to a slower rate); after idle time, start a fresh grid (no burst).
            late = now - self._next_start
            base = self._next_start if 0 < late <= self.interval else now
            self._next_start = max(base, self._next_start) + self.interval
            self._in_flight += 1
            if self.starts is not None:
                self.starts.append(now)

    def release(self) -> None:
        """The answer arrived (or we gave up waiting): occupied for one more window."""
        self._in_flight -= 1
        self._free_at.append(self._clock() + self.window)
        self._released.set()

    @property
    def idle(self) -> bool:
        """Nothing in flight, nothing waiting, no occupied slot: safe to forget."""
        self._prune(self._clock())
        return not self._in_flight and not self._free_at and not self._turn.locked()

    def _wait_needed(self, now: float) -> float | None:
        """Seconds to wait before starting; None = wait for an answer; <= 0 = go."""
        self._prune(now)
        spacing = self._next_start - now
        if self._in_flight + len(self._free_at) < self.capacity:
            return spacing
        if not self._free_at:
            return None
        return max(spacing, self._free_at[0] - now)

    def _prune(self, now: float) -> None:
        while self._free_at and self._free_at[0] <= now:
            self._free_at.popleft()


class ChatPacers:
    """One `Pacer` per chat, created on demand and dropped once idle (broadcasts stay bounded)."""

    _SWEEP_AT = 1024

    def __init__(
        self, rate: float, *, clock: MonotonicClock = time.monotonic, sleep: Sleep = asyncio.sleep
    ) -> None:
        self._rate = rate
        self._clock = clock
        self._sleep = sleep
        self._pacers: dict[str, Pacer] = {}

    @property
    def interval(self) -> float:
        return 1.0 / self._rate

    def for_chat(self, chat: str) -> Pacer:
        pacer = self._pacers.get(chat)
        if pacer is None:
            if len(self._pacers) >= self._SWEEP_AT:
                self._sweep()
            pacer = Pacer(self._rate, clock=self._clock, sleep=self._sleep)
            self._pacers[chat] = pacer
        return pacer

    def _sweep(self) -> None:
        for chat in [chat for chat, pacer in self._pacers.items() if pacer.idle]:
            del self._pacers[chat]

    def __len__(self) -> int:
        return len(self._pacers)
