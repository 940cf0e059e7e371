"""Nudges at run time: the planner and lifecycle ticks, off the event loop, on the clock."""

from __future__ import annotations

from collections.abc import Sequence

from core.clock import Clock
from scheduler.campaigns import Campaign
from scheduler.lifecycle import LifecycleReport, advance
from scheduler.planner import Planner, PlanReport
from storage.database import Database


class NudgeService:
    def __init__(self, db: Database, clock: Clock, planner: Planner) -> None:
        self.db = db
        self.clock = clock
        self.planner = planner

    @property
    def campaigns(self) -> Sequence[Campaign]:
        return self.planner.campaigns

    async def plan_tick(self) -> PlanReport:
        now = self.clock.now()
        report = await self.db.run(lambda s: self.planner.plan(s, now, own_transaction=True))
        if self.planner.render_on_claim:  # the sender renders what it claims
            return report
        while (done := await self.db.run(lambda s: self.planner.render(s, now))) > 0:
            report.rendered += done
        return report

    async def lifecycle_tick(self) -> LifecycleReport:
        now = self.clock.now()
        return await self.db.run(lambda s: advance(s, self.campaigns, now))

