"""The composition root: the one place that knows every concrete class."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from fastapi import APIRouter
from sqlmodel import Session

from bot import desk_timers
from bot.admin_api import admin_routes
from bot.admin_desk import AdminDesk, CampaignInfo
from bot.channels.base import ChannelParts, ChannelSender, Service
from bot.channels.webchat import webchat_parts
from bot.clock import Clock, SystemClock
from bot.crisis_turn import Safety
from bot.desk import DeskConfig, EscalationDesk
from bot.desk_actions import DeskEffects
from bot.dispatch import Dispatcher
from bot.engine import Engine
from bot.goal_effects import GoalEffects, students_only
from bot.guardians import router as guardians_router
from bot.i18n import Translator
from bot.mentor_brief import MentorBrief
from bot.metrics import Metrics
from bot.nudge_api import nudge_routes
from bot.people_api import people_routes
from bot.plan_effects import PlanEffects
from bot.progress_effects import ProgressEffects
from bot.roles import Role
from bot.settings import SUPPORTED_LOCALES, Settings
from bot.students_api import student_routes
from bot.turn import TurnRunner
from bot.turn_gate import Support
from handlers.crisis import CrisisDetector
from handlers.eligibility import EligibilityRule
from handlers.knowledge import load_knowledge
from handlers.registry import default_flows
from handlers.retrieval import KnowledgeBase
from handlers.safety import load_resources
from scheduler.campaigns import load_campaigns
from scheduler.goal_config import GoalConfig, load_goal_config
from scheduler.parent_digest import DigestPlanner
from scheduler.planner import NudgeConfig, Planner
from scheduler.policy import SendPolicy
from scheduler.runner import Ticker
from scheduler.service import NudgeService
from scheduler.weekly import WeeklyPlanner
from storage import retention, send_slots
from storage.database import Database, create_db_engine
from storage.demo import is_empty, seed_demo
from storage.migrate import upgrade
from storage.stats import EligibilityParams

log = structlog.get_logger("mentorbot.app")


@dataclass
class Runtime:
    """Everything a running mentorbot has, built from settings by `build_runtime`."""

    settings: Settings
    clock: Clock
    db: Database
    translator: Translator
    metrics: Metrics
    engine: Engine
    dispatcher: Dispatcher
    ticker: Ticker
    demo_chat: bool
    routers: list[APIRouter] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)
    nudges: NudgeService | None = None
    role: Role = Role.ALL
    # Services of the other role: never started, but stopped (they close clients that the
    # senders share, e.g. the Telegram bot's HTTP session).
    idle_services: list[Service] = field(default_factory=list)

    def channel_status(self) -> dict[str, bool]:
        active = set(self.dispatcher.channels)
        return {name: name in active for name in ("webchat", "telegram", "sms")}

    def attach(self, parts: ChannelParts, *, runs_in: Role = Role.ALL) -> None:
        """Plug a channel in: its sender, its HTTP routes, its background service (run only
        in the role `runs_in`; every role sends, so every role has the sender)."""
        if parts.sender is not None:
            self.dispatcher.register(parts.sender)
        if parts.router is not None:
            self.routers.append(parts.router)
        if parts.service is not None:
            mine = self.role.runs(runs_in)
            (self.services if mine else self.idle_services).append(parts.service)

    async def start(self) -> None:
        if self.role.works_schedule and self.db.dialect == "sqlite":
            # One process sends on SQLite: whatever is leased now was left by one that died.
            await self.dispatcher.recover(started_before=self.clock.now())
        for service in self.services:
            await service.start()
        if self.role.works_schedule:
            self.ticker.start()

    async def stop(self) -> None:
        """Graceful: nothing new is sent, sends in flight finish and are recorded, claimed
        rows not yet sent go back to pending (another process, or the next start, sends them)."""
        self.dispatcher.stop_sending()
        await self.ticker.stop()
        for service in reversed(self.services + self.idle_services):
            await service.stop()
        self.db.close()


def prepare_database(settings: Settings, clock: Clock) -> Database:
    """Apply migrations; seed the demo cohort only into an empty *default* database."""
    upgrade(settings.database_url)
    db = Database(create_db_engine(settings.database_url))
    if settings.uses_default_database and settings.demo_seed:
        added = db.run_sync(lambda s: seed_demo(s, clock.now()) if is_empty(s) else 0)
        if added:
            log.info("demo.seeded", people=added)
    return db


def build_runtime(
    settings: Settings,
    *,
    clock: Clock | None = None,
    senders: dict[str, ChannelSender] | None = None,
    role: Role = Role.ALL,
) -> Runtime:
    clock = clock or SystemClock()
    campaigns = load_campaigns(settings.nudges.campaigns_file)  # fail fast, every problem listed
    knowledge = load_knowledge_base(settings)  # likewise
    goal_config = load_goal_config()  # likewise: goals, plans and gamification per program
    db = prepare_database(settings, clock)
    translator = Translator(settings.locales_dir, SUPPORTED_LOCALES, settings.default_locale)
    metrics = Metrics()
    consent = settings.consent
    rule = EligibilityRule(
        consent.eligible_tracks,
        consent.eligible_programs,
        timedelta(days=consent.active_within_days),
    )
    # Recipients without a known zone get the configured default one (an explicit fallback).
    policy = SendPolicy(
        window=settings.twilio.send_window(),
        fallback_zone=settings.default_time_zone,
        daily_nudge_cap=settings.nudges.daily_cap,
    )
    desk = EscalationDesk(translator, desk_config(settings))
    admin_chats = frozenset(str(chat) for chat in settings.admin_telegram_ids)
    features: dict[str, Any] = {}  # filled by attach_goals: effects built with their settings
    support = Support(
        knowledge,
        Safety(
            CrisisDetector.load(settings.locales_dir, SUPPORTED_LOCALES),
            load_resources(settings.locales_dir),
        ),
        DeskEffects(desk),
        admin_chats,
        AdminDesk([CampaignInfo(c.id, c.description) for c in campaigns], admin_chats,
                  eligibility_params(settings), translator,
                  bot_username=(settings.telegram.username or "").lstrip("@") or None,
                  invitation_ttl=timedelta(days=settings.escalations.invitation_days)),
        features=features,
    )
    runner = TurnRunner(
        default_flows(),
        translator,
        clock,
        rule,
        consent.text_version,
        policy,
        support,
    )
    engine = Engine(db, runner, translator, clock, metrics)
    timing = settings.scheduler
    leases = (timedelta(seconds=timing.claim_lease_seconds),
              timedelta(seconds=timing.send_lease_seconds))  # fmt: skip
    dispatcher = Dispatcher(db, dict(senders or {}), clock, metrics, policy,
                            claim_batch=timing.claim_batch, leases=leases)  # fmt: skip
    planner = Planner(campaigns, translator, nudge_config(settings), lambda: dispatcher.channels,
                      render_on_claim=True)
    dispatcher.render_with(planner)
    nudges = NudgeService(db, clock, planner)
    ticker = Ticker(dispatcher, settings.scheduler, nudges, settings.nudges)
    demo_chat = settings.demo_chat
    if demo_chat is None:
        demo_chat = settings.uses_default_database and settings.environment != "production"
    runtime = Runtime(
        settings, clock, db, translator, metrics, engine, dispatcher, ticker, demo_chat,
        role=role,
    )
    runtime.nudges = nudges
    runtime.extras["features"] = features
    attach_channels(runtime)
    attach_parents(runtime)
    attach_desk(runtime, desk)
    attach_goals(runtime, goal_config)
    runtime.routers.append(nudge_routes(runtime))
    runtime.routers.append(student_routes(runtime))
    runtime.routers.append(people_routes(runtime))
    runtime.routers.append(admin_routes(runtime, eligibility_params(settings),
                                        frozenset(c.id for c in campaigns)))
    attach_retention(runtime)
    return runtime


def attach_retention(runtime: Runtime) -> None:
    """Purges message texts past the retention age, one batch per kind and run."""
    keep = runtime.settings.retention

    def purge(session: Session, now: datetime) -> retention.Purged:
        send_slots.forget_idle(session, time.time())  # slots keep wall-clock time
        return retention.purge(session, now, message_days=keep.message_days,
                               consent_years=keep.consent_years)  # fmt: skip

    async def purge_old_texts() -> int:
        now = runtime.clock.now()
        purged = await runtime.db.run(lambda s: purge(s, now))
        if purged.total:
            log.info("retention.purged", **asdict(purged))
        return purged.total

    runtime.ticker.add_job("retention", keep.seconds, purge_old_texts)


def attach_goals(runtime: Runtime, config: GoalConfig) -> None:
    """/goals, /plan and /progress (their effects), the weekly plans and the mentors' brief."""
    zone = runtime.settings.default_time_zone
    weekly = WeeklyPlanner(config, runtime.translator, zone, lambda: runtime.dispatcher.channels)
    handlers = {**GoalEffects(weekly).handlers(), **PlanEffects(weekly).handlers(),
                **ProgressEffects(weekly).handlers()}  # fmt: skip
    runtime.extras["features"].update(students_only(handlers))
    brief = MentorBrief(runtime.translator, zone)
    runtime.extras["weekly"], runtime.extras["brief"] = weekly, brief

    async def weekly_plans() -> int:
        return await runtime.db.run(lambda s: weekly.run(s, runtime.clock.now()))

    async def mentor_briefs() -> int:
        return await runtime.db.run(lambda s: brief.run(s, runtime.clock.now()))

    every = runtime.settings.scheduler.tick_seconds
    runtime.ticker.add_job("weekly-plans", every, weekly_plans)
    runtime.ticker.add_job("mentor-briefs", every, mentor_briefs)


def eligibility_params(settings: Settings) -> EligibilityParams:
    consent = settings.consent
    return EligibilityParams(consent.eligible_tracks, consent.eligible_programs,
                             timedelta(days=consent.active_within_days))  # fmt: skip


def desk_config(settings: Settings) -> DeskConfig:
    esc = settings.escalations
    return DeskConfig(
        admin_chats=tuple(settings.admin_telegram_ids),
        fallback_zone=settings.default_time_zone,
        idle_after=timedelta(hours=esc.idle_hours),
        targets=(timedelta(minutes=esc.urgent_target_minutes),
                 timedelta(hours=esc.normal_target_hours)),
    )


def attach_desk(runtime: Runtime, desk: EscalationDesk) -> None:
    """The desk's timers: missed first-response targets and idle holds, every tick."""
    runtime.extras["desk"] = desk

    async def escalation_timers() -> int:
        return await runtime.db.run(lambda s: desk_timers.tick(desk, s, runtime.clock.now()))

    runtime.ticker.add_job("escalations", runtime.settings.scheduler.tick_seconds,
                           escalation_timers)


def load_knowledge_base(settings: Settings) -> KnowledgeBase:
    files = load_knowledge(settings.knowledge.dir, SUPPORTED_LOCALES)
    return KnowledgeBase(files, settings.knowledge.threshold)


def nudge_config(settings: Settings) -> NudgeConfig:
    return NudgeConfig(
        fallback_zone=settings.default_time_zone,
        public_url=settings.public_url,
        link_secret=settings.nudges.link_secret.get_secret_value(),
        link_base=settings.nudges.link_base,
    )


def attach_channels(runtime: Runtime) -> None:
    """Each channel is enabled by the credentials present in the settings."""
    runtime.attach(webchat_parts(runtime))
    if runtime.settings.telegram_enabled:
        # Imported here: aiogram takes seconds to import, and `make run` without a token
        # should not pay for it.
        from bot.channels.telegram import telegram_parts

        # Polling is a worker's job; a webhook is registered by the web process it reaches.
        polling = runtime.settings.telegram.mode == "polling"
        runtime.attach(telegram_parts(runtime), runs_in=Role.WORKER if polling else Role.WEB)
    if runtime.settings.sms_enabled and "sms" not in runtime.dispatcher.channels:
        from bot.channels.sms import sms_parts  # twilio is large: imported only when used

        runtime.attach(sms_parts(runtime))


def attach_parents(runtime: Runtime) -> None:
    """Guardian links (API) and the parents' digests and alerts (a scheduler job)."""
    settings = runtime.settings
    planner = DigestPlanner(runtime.translator, settings.twilio.parent_link,
                            settings.default_time_zone)  # fmt: skip

    async def plan_parent_messages() -> int:
        return await runtime.db.run(lambda s: planner.plan(s, runtime.clock.now()))

    runtime.ticker.add_job("parent-digests", settings.scheduler.tick_seconds, plan_parent_messages)
    runtime.routers.append(guardians_router(runtime))
