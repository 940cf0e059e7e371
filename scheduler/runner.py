"""APScheduler only ticks; the database holds every schedule.

Three interval jobs, each with an explicit id, `coalesce=True` (a missed run is run once, not
replayed) and `max_instances=1` (a slow tick is never overlapped by the next): the sender
(drain), the nudge planner, and the cascade/conversion tick. Every job calls an idempotent
function, so a tick run twice, or in two processes, changes nothing twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.settings import NudgeSettings, SchedulerSettings

log = structlog.get_logger("mentorbot.scheduler")


class Drainable(Protocol):
    async def drain(self, limit: int = 200) -> int: ...


class NudgeTicks(Protocol):
    async def plan_tick(self) -> Any: ...

    async def lifecycle_tick(self) -> Any: ...


class Ticker:
    def __init__(self, dispatcher: Drainable, settings: SchedulerSettings,
                 nudges: NudgeTicks | None = None,
                 nudge_settings: NudgeSettings | None = None) -> None:
        self._dispatcher = dispatcher
        self._settings = settings
        self._nudges = nudges
        self._nudge_settings = nudge_settings or NudgeSettings()
        self._scheduler: AsyncIOScheduler | None = None

    def jobs(self) -> list[tuple[str, float, Callable[[], Awaitable[Any]]]]:
        """(id, seconds, tick) for every job this ticker runs."""
        found: list[tuple[str, float, Callable[[], Awaitable[Any]]]] = [
            ("send-pending", self._settings.tick_seconds, self._dispatcher.drain)]
        if self._nudges is not None:
            found += [("plan-nudges", self._nudge_settings.plan_seconds, self._nudges.plan_tick),
                      ("nudge-lifecycle", self._nudge_settings.lifecycle_seconds,
                       self._nudges.lifecycle_tick)]
        return found

    def start(self) -> None:
        if not self._settings.enabled:
            return
        self._scheduler = AsyncIOScheduler(timezone="UTC")
        for job_id, seconds, tick in self.jobs():
            self._scheduler.add_job(_guarded(job_id, tick), "interval", id=job_id,
                                    seconds=seconds, replace_existing=True, coalesce=True,
                                    max_instances=1)
        self._scheduler.start()

    async def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None


def _guarded(job_id: str, tick: Callable[[], Awaitable[Any]]) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        try:
            await tick()
        except Exception:
            log.exception("scheduler.tick_failed", job=job_id)

    return run
