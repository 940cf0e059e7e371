"""APScheduler only ticks; the database holds every schedule.

Interval jobs, each with an explicit id, `coalesce=True` (a missed run is run once, not
replayed) and `max_instances=1` (a slow tick is never overlapped by the next): the sender
(drain), the nudge planner, the cascade/conversion tick, and whatever a channel adds (the
parents' digests). Every job calls an idempotent function, so a tick run twice, or in two
processes, changes nothing twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.settings import NudgeSettings, SchedulerSettings

log = structlog.get_logger("mentorbot.scheduler")

Tick = Callable[[], Awaitable[Any]]
SEND_JOB = "send-pending"


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
        self._extra: list[tuple[str, float, Tick]] = []
        self._scheduler: AsyncIOScheduler | None = None

    def add_job(self, job_id: str, seconds: float, tick: Tick) -> None:
        """A periodic planning job of a channel or feature (e.g. the parents' digests)."""
        self._extra.append((job_id, seconds, tick))

    def jobs(self) -> list[tuple[str, float, Tick]]:
        """(id, seconds, tick) for every job this ticker runs."""
        found: list[tuple[str, float, Tick]] = [
            (SEND_JOB, self._settings.tick_seconds, self._dispatcher.drain)]
        if self._nudges is not None:
            found += [("plan-nudges", self._nudge_settings.plan_seconds, self._nudges.plan_tick),
                      ("nudge-lifecycle", self._nudge_settings.lifecycle_seconds,
                       self._nudges.lifecycle_tick)]
        return found + self._extra

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

    async def run_jobs(self) -> None:
        """Run every planning job once, now (tests and previews drive time by hand)."""
        for job_id, _seconds, tick in self.jobs():
            if job_id != SEND_JOB:
                await _guarded(job_id, tick)()


def _guarded(job_id: str, tick: Tick) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        try:
            await tick()
        except Exception:
            log.exception("scheduler.tick_failed", job=job_id)

    return run
