"""The nudge planner: campaigns as data in, planned deliveries out; idempotent and set-based.

`plan()` builds one table of every student's persona, consent and reachable identities, then
runs one INSERT ... SELECT per enabled campaign (higher priority first, so it takes the day's
topic) for every student at once (storage/plan_sql.py); `render()` fills the text and the send
time of planned rows in batches (scheduler/render_batch.py, scheduler/nudge_text.py). In the
service the sender renders, a batch in each claim (`render_on_claim`, bot/dispatch.py): a
planning run then costs the plan alone, and rendering is spread over the sends it feeds.
Running it twice, or in several processes, creates nothing twice: unique dedupe and topic keys,
and on PostgreSQL a transaction-scoped advisory lock so planners take turns instead of
deadlocking.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlmodel import Session

from core.i18n import Translator
from scheduler.campaigns import Campaign
from scheduler.holdout import campaign_salt, holdout_threshold
from scheduler.nudge_config import NudgeConfig, fire_offset
from scheduler.policy import IMPLIED_CONSENT
from scheduler.quiet_hours import is_known_zone, local_to_utc
from scheduler.render_batch import RenderContext, render_planned
from storage.campaign_states import paused_campaigns
from storage.database import Database
from storage.plan_sql import (
    Occurrence,
    PlanSpec,
    Step,
    drop_personas,
    insert_campaign,
    refresh_personas,
)
from storage.tables import Person

PLANNER_LOCK = 0x6E75646765  # "nudge": one planner at a time on PostgreSQL
RENDER_BATCH = 5_000
# From this many person ids, SQLite computes half of the personas in a child process, on the
# second core: below it, starting the child costs more than the split saves.
SPLIT_PERSONAS_FROM = 100_000
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(slots=True)
class PlanReport:
    planned: dict[str, int] = field(default_factory=dict)
    held_out: dict[str, int] = field(default_factory=dict)
    rendered: int = 0

    @property
    def total(self) -> int:
        return sum(self.planned.values()) + sum(self.held_out.values())


class Planner:
    """Plans, and unless `render_on_claim`, renders what it planned. With `render_on_claim` the
    rows stay `planned` until the sender renders them, as it claims work (`render`)."""

    def __init__(self, campaigns: Sequence[Campaign], translator: Translator,
                 config: NudgeConfig, channels: Callable[[], Sequence[str]], *,
                 render_on_claim: bool = False,
                 split_personas_from: int | None = SPLIT_PERSONAS_FROM) -> None:
        self.campaigns = sorted((c for c in campaigns if c.enabled), key=lambda c: -c.priority)
        self.by_id = {c.id: c for c in campaigns}
        self.translator = translator
        self.config = config
        self._channels = channels
        self.render_on_claim = render_on_claim
        self.split_personas_from = split_personas_from  # None: always in one process
        self.render_context = RenderContext(self.by_id, translator, config)

    def run(self, db: Database, now: datetime) -> PlanReport:
        """Plan (one transaction), then render in batches (one transaction each), unless the
        sender renders (`render_on_claim`)."""
        report = db.run_sync(lambda s: self.plan(s, now, own_transaction=True))
        while not self.render_on_claim and (done := db.run_sync(lambda s: self.render(s, now))):
            report.rendered += done
        return report

    def plan(self, session: Session, now: datetime, *,
             own_transaction: bool = False) -> PlanReport:
        """Plan every enabled, unpaused campaign in `session`'s transaction. `own_transaction`:
        the transaction began for this plan and has written nothing, so another process reads
        the same data (SQLite then computes half of the personas in a child process)."""
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text(f"SELECT pg_advisory_xact_lock({PLANNER_LOCK})"))
        zones = self._zones(session)
        days = tuple((zone, now.astimezone(ZoneInfo(zone)).date()) for zone in zones)
        paused = paused_campaigns(session)  # admins' /campaigns pause, read every run
        # SQLite: consent and reachable identities read once per student into the persona
        # table, cheaper than per candidate and campaign. PostgreSQL: per candidate is cheaper
        # (its correlated subqueries cost more per student than the campaigns save).
        reach = session.get_bind().dialect.name == "sqlite"
        specs = [replace(self.spec(campaign, now, zones, days), reach_table=reach,
                         latest_anchor=True, ref_lookups=True)
                 for campaign in self.campaigns if campaign.id not in paused]
        wanted = [s for s in specs if reach]
        refresh_personas(
            session, now,
            consents=tuple((s.consent, s.implied_consent or s.consent) for s in wanted),
            channels=tuple(c for s in wanted for c in s.channels),
            latest=tuple(s.anchor_type for s in specs if s.anchor_is_latest),
            split_from=self.split_personas_from if own_transaction else None)
        report = PlanReport()
        for spec in specs:
            planned, held = insert_campaign(session, spec)
            report.planned[spec.campaign_id], report.held_out[spec.campaign_id] = planned, held
        drop_personas(session)
        return report

    def render(self, session: Session, now: datetime, limit: int = RENDER_BATCH) -> int:
        """Render the next batch of planned rows (oldest due first); 0 when none are left."""
        return render_planned(session, self.render_context, now, limit)

    def spec(self, campaign: Campaign, now: datetime, zones: Sequence[str],
             days: tuple[tuple[str, date], ...]) -> PlanSpec:
        available = set(self._channels())
        audience = campaign.audience
        base = PlanSpec(
            campaign_id=campaign.id, topic=campaign.topic_key, kind=campaign.trigger.kind,
            channels=tuple(c for c in campaign.channels if c in available),
            salt=campaign_salt(campaign.id), holdout_threshold=holdout_threshold(campaign.holdout),
            now=now, fallback_zone=self.config.fallback_zone, local_days=days,
            consent=audience.consent, implied_consent=IMPLIED_CONSENT.get(audience.consent),
            audience={"programs": audience.programs, "cohorts": audience.cohorts,
                      "grades": tuple(str(g) for g in audience.grades),
                      "engagement": tuple(e.value for e in audience.engagement),
                      "performance": tuple(p.value for p in audience.performance)})
        trigger = campaign.trigger
        if trigger.schedule:
            return _with(base, occurrences=tuple(_occurrences(campaign, now, zones)))
        if trigger.event:
            anchor, missing, match_ref, wait = trigger.event.type, None, True, trigger.event.delay
        else:
            absent = trigger.absence
            assert absent is not None
            anchor, missing, match_ref, wait = (absent.after, absent.missing, absent.match_ref,
                                                absent.within)
        return _with(base, anchor_type=anchor, missing_type=missing, match_ref=match_ref,
                     stop_types=campaign.repeat.stop_on if campaign.repeat else (),
                     steps=tuple(_steps(campaign, now, wait)))

    def fire_offset(self, campaign: Campaign, step: int) -> timedelta:
        """How long after its anchor event a step of an event or absence campaign fires."""
        return fire_offset(campaign, step)

    def _zones(self, session: Session) -> list[str]:
        found = session.execute(select(Person.time_zone).distinct()
                                .where(Person.role == "student")).scalars()
        zones = {z for z in found if z and is_known_zone(z)} | {self.config.fallback_zone}
        return sorted(zones)


def _with(spec: PlanSpec, **changes: object) -> PlanSpec:
    return replace(spec, **changes)  # type: ignore[arg-type]


def _steps(campaign: Campaign, now: datetime, wait: timedelta) -> list[Step]:
    times = campaign.repeat.max_times if campaign.repeat else 1
    every = campaign.repeat.every if campaign.repeat else timedelta(0)
    steps = []
    for n in range(times):
        offset = wait + n * every
        steps.append(Step(n, now - offset, now - offset - campaign.expires_after))
    return steps


def _occurrences(campaign: Campaign, now: datetime, zones: Sequence[str]) -> list[Occurrence]:
    """The latest occurrence at or before `now` in each zone, if it has not expired yet."""
    schedule = campaign.trigger.schedule
    assert schedule is not None
    found = []
    for zone in zones:
        today = now.astimezone(ZoneInfo(zone)).date()
        for back in range(8):
            day = today - timedelta(days=back)
            if schedule.every == "week" and _WEEKDAYS[day.weekday()] != schedule.weekday:
                continue
            fire = local_to_utc(day, schedule.at, zone)
            if fire <= now:
                if now - fire < campaign.expires_after:
                    found.append(Occurrence(zone, fire, day))
                break
    return found
