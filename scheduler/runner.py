"""APScheduler only ticks; the database holds every schedule."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.settings import SchedulerSettings

log = structlog.get_logger("mentorbot.scheduler")


class Drainable(Protocol):
    async def drain(self, limit: int = 200) -> int: ...


Job = Callable[[], Awaitable[object]]


class Ticker:
    def __init__(
        self,
        dispatcher: Drainable,
        settings: SchedulerSettings,
        jobs: Mapping[str, Job] | None = None,
    ) -> None:
        self._dispatcher = dispatcher
        self._settings = settings
        self._scheduler: AsyncIOScheduler | None = None
        self.jobs: dict[str, Job] = dict(jobs or {})  # planners run before each send pass

    def start(self) -> None:
        if not self._settings.enabled:
            return
        self._scheduler = AsyncIOScheduler(timezone="UTC")
        self._scheduler.add_job(
            self._send_pending,
            "interval",
            id="send-pending",
            seconds=self._settings.tick_seconds,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
        )
        self._scheduler.start()

    async def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None

    async def _send_pending(self) -> None:
        await self.run_jobs()
        try:
            await self._dispatcher.drain()
        except Exception:
            log.exception("scheduler.drain_failed")

    async def run_jobs(self) -> None:
        """Each planning job on its own: one failing never stops the others or the sends."""
        for name, job in self.jobs.items():
            try:
                await job()
            except Exception:
                log.exception("scheduler.job_failed", job=name)
