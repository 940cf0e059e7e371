"""APScheduler only ticks; the database holds every schedule."""

from __future__ import annotations

from typing import Protocol

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.settings import SchedulerSettings

log = structlog.get_logger("mentorbot.scheduler")


class Drainable(Protocol):
    async def drain(self, limit: int = 200) -> int: ...


class Ticker:
    def __init__(self, dispatcher: Drainable, settings: SchedulerSettings) -> None:
        self._dispatcher = dispatcher
        self._settings = settings
        self._scheduler: AsyncIOScheduler | None = None

    def start(self) -> None:
        if not self._settings.enabled:
            return
        self._scheduler = AsyncIOScheduler(timezone="UTC")
        self._scheduler.add_job(self._send_pending, "interval", id="send-pending",
                                seconds=self._settings.tick_seconds, replace_existing=True,
                                coalesce=True, max_instances=1)
        self._scheduler.start()

    async def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None

    async def _send_pending(self) -> None:
        try:
            await self._dispatcher.drain()
        except Exception:
            log.exception("scheduler.drain_failed")
