"""APScheduler only ticks; the database holds every schedule.

Interval jobs, each with an explicit id, `coalesce=True` (a missed run is run once, not
replayed) and `max_instances=1` (a slow tick is never overlapped by the next): the sender
(drain), the nudge planner, the cascade/conversion tick, and whatever a channel adds (the
parents' digests). Every job calls an idempotent function, so a tick run twice, or in two
processes, changes nothing twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = structlog.get_logger("mentorbot.scheduler")

Tick = Callable[[], Awaitable[Any]]
SEND_JOB = "send-pending"
# How long a stop waits for running jobs (a drain's sends in flight) before cancelling them:
# short enough that a stopped process exits well within a container's 10 s stop timeout.
STOP_GRACE_SECONDS = 4.0


class Drainable(Protocol):
    async def drain(self, limit: int | None = None) -> int: ...


class TickTimes(Protocol):
    """The scheduler's settings (bot/settings.py SchedulerSettings)."""

    enabled: bool
    tick_seconds: float


class NudgeTimes(Protocol):
    """How often nudges are planned and their lifecycle ticks (NudgeSettings)."""

    plan_seconds: float
    lifecycle_seconds: float


class NudgeTicks(Protocol):
    async def plan_tick(self) -> Any: ...

    async def lifecycle_tick(self) -> Any: ...


class Ticker:
    def __init__(self, dispatcher: Drainable, settings: TickTimes,
                 nudges: NudgeTicks | None = None,
                 nudge_settings: NudgeTimes | None = None) -> None:
        self._dispatcher = dispatcher
        self._settings = settings
        self._nudges = nudges
        self._nudge_settings = nudge_settings
        self._extra: list[tuple[str, float, Tick]] = []
        self._scheduler: AsyncIOScheduler | None = None
        self._running: set[asyncio.Task[Any]] = set()

    def add_job(self, job_id: str, seconds: float, tick: Tick) -> None:
        """A periodic planning job of a channel or feature (e.g. the parents' digests)."""
        self._extra.append((job_id, seconds, tick))

    def jobs(self) -> list[tuple[str, float, Tick]]:
        """(id, seconds, tick) for every job this ticker runs."""
        found: list[tuple[str, float, Tick]] = [
            (SEND_JOB, self._settings.tick_seconds, self._dispatcher.drain)]
        if self._nudges is not None and self._nudge_settings is not None:
            found += [("plan-nudges", self._nudge_settings.plan_seconds, self._nudges.plan_tick),
                      ("nudge-lifecycle", self._nudge_settings.lifecycle_seconds,
                       self._nudges.lifecycle_tick)]
        return found + self._extra

    @property
    def running(self) -> bool:
        return self._scheduler is not None

    def start(self) -> None:
        if not self._settings.enabled:
            return
        self._scheduler = AsyncIOScheduler(timezone="UTC")
        for job_id, seconds, tick in self.jobs():
            self._scheduler.add_job(_guarded(job_id, tick, self._running), "interval", id=job_id,
                                    seconds=seconds, replace_existing=True, coalesce=True,
                                    max_instances=1)
        self._scheduler.start()

    async def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """No new runs; running ones may finish (within `grace`), so that sends in flight are
        recorded. APScheduler's own shutdown would cancel them mid-send."""
        if self._scheduler is None:
            return
        self._scheduler.pause()
        if self._running:
            await asyncio.wait(list(self._running), timeout=grace)
        self._scheduler.shutdown(wait=False)  # cancels whatever outlived the grace
        self._scheduler = None

    async def run_jobs(self) -> None:
        """Run every planning job once, now (tests and previews drive time by hand)."""
        for job_id, _seconds, tick in self.jobs():
            if job_id != SEND_JOB:
                await _guarded(job_id, tick)()


def _guarded(
    job_id: str, tick: Tick, running: set[asyncio.Task[Any]] | None = None
) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        task = asyncio.current_task()
        if running is not None and task is not None:
            running.add(task)  # so that a stop can wait for it
        try:
            await tick()
        except Exception:
            log.exception("scheduler.tick_failed", job=job_id)
        finally:
            if running is not None and task is not None:
                running.discard(task)

    return run
