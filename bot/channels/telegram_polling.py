"""Long polling with aiogram's client (for development, or where no public URL exists).

We run our own small `getUpdates` loop rather than `Dispatcher.start_polling`: aiogram validates
the whole batch at once, so one malformed update would fail every fetch and stall polling
forever at the same offset. Here each update is validated on its own; a bad one is logged and
skipped (its offset is still confirmed), exactly as the webhook answers 200 to it.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress
from typing import Any

import structlog
from aiogram import Bot
from aiogram.methods import GetUpdates

from bot.channels.telegram_updates import UpdateProcessor

log = structlog.get_logger("mentorbot.telegram.polling")
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]
# On stop, updates being handled get this long to finish their turn. A turn is one short
# transaction, and its replies are not sent any more (the stopping dispatcher leaves them
# pending for another process), so this stays well within a container's stop timeout.
STOP_GRACE_SECONDS = 3.0


class RawGetUpdates(GetUpdates):
    """getUpdates answering plain dicts, validated one by one by `UpdateProcessor`."""

    __returning__ = list[dict[str, Any]]


class Poller:
    def __init__(
        self, bot: Bot, processor: UpdateProcessor, *, timeout: int = 25, concurrency: int = 64
    ) -> None:
        self._bot = bot
        self._processor = processor
        self._timeout = timeout
        self._slots = asyncio.Semaphore(concurrency)
        self._task: asyncio.Task[None] | None = None
        self._handling: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        await self._bot.delete_webhook(drop_pending_updates=False)  # polling and webhook exclude
        self._task = asyncio.create_task(self._run(), name="telegram-poller")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._handling:
            await asyncio.wait(list(self._handling), timeout=STOP_GRACE_SECONDS)

    async def _run(self) -> None:
        offset: int | None = None
        failures = 0
        while True:
            try:
                batch = await self._bot(
                    RawGetUpdates(
                        offset=offset, timeout=self._timeout, allowed_updates=ALLOWED_UPDATES
                    ),
                    request_timeout=self._timeout + 10,
                )
                failures = 0
            except Exception as exc:  # network, 409 conflict, 5xx: keep polling, with backoff
                failures += 1
                delay = min(30.0, 0.5 * 2 ** min(failures, 6))
                log.warning("telegram.poll_failed", error=repr(exc), retry_in=delay)
                await asyncio.sleep(delay)
                continue
            for raw in batch:
                offset = max(offset or 1, _update_id(raw) + 1)
                await self._spawn(raw)

    async def _spawn(self, raw: dict[str, Any]) -> None:
        await self._slots.acquire()  # back-pressure: stop fetching while many are in flight
        task = asyncio.create_task(self._handle(raw))
        self._handling.add(task)
        task.add_done_callback(self._handling.discard)

    async def _handle(self, raw: dict[str, Any]) -> None:
        try:
            await self._processor.process_raw(raw)
        except Exception:
            log.exception("telegram.update_failed", update_id=raw.get("update_id"))
        finally:
            self._slots.release()


def _update_id(raw: dict[str, Any]) -> int:
    value = raw.get("update_id")
    return value if isinstance(value, int) else -1
