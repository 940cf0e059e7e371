"""Send rates that hold across processes: each call waits for a start reserved in the database.

Used on PostgreSQL, where several processes send through one bot token or one Twilio number;
on SQLite one process sends and its in-process pacers are enough. Each process still paces
itself first (smooth, FIFO); this adds the start the database hands out (`storage/send_slots`).

Why a margin and a lateness check: the provider counts arrivals, not our reservations. Slots
are `margin` (10%) wider than the rate; a process that wakes up later than `late` after its
start gives the slot up and reserves again, so no two calls arrive closer than the rate allows
unless the network itself delays one by more than the rest of the margin.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable, Sequence

from storage import send_slots
from storage.database import Database

Keys = Sequence[tuple[str, float]]  # (rate key, seconds between starts)


class SharedSlots:
    def __init__(
        self,
        db: Database,
        *,
        margin: float = 0.1,
        late: float = 0.04,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._db = db
        self.margin = margin
        self._late = late
        self._clock = clock
        self._sleep = sleep
        self._lead = late  # reserve this far ahead: a reservation's round trip is not late

    async def wait(self, keys: Keys) -> None:
        """Return at a start reserved for one call under every key."""
        widened = [(key, seconds * (1 + self.margin)) for key, seconds in keys]
        while True:
            asked = self._clock()
            not_before = asked + self._lead
            start = await self._db.run(
                lambda s, at=not_before: send_slots.reserve(s, widened, at)
            )
            took = self._clock() - asked
            self._lead = max(self._late, min(1.0, 2 * took))
            delay = start - self._clock()
            if delay > 0:
                await self._sleep(delay)
            if self._clock() - start <= self._late:
                return


def chat_key(channel: str, chat: str) -> str:
    """A chat's rate key: a hash, so the table never holds a chat id."""
    return f"{channel}:{hashlib.sha256(chat.encode()).hexdigest()[:16]}"
