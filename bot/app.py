"""The composition root: the one place that knows every concrete class."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import structlog

from bot.channels.base import ChannelSender
from bot.channels.webchat import WebchatSender
from bot.clock import Clock, SystemClock
from bot.dispatch import Dispatcher
from bot.engine import Engine
from bot.i18n import Translator
from bot.metrics import Metrics
from bot.settings import SUPPORTED_LOCALES, Settings
from bot.turn import TurnRunner
from handlers.eligibility import EligibilityRule
from handlers.registry import default_flows
from scheduler.runner import Ticker
from storage.database import Database, create_db_engine
from storage.demo import is_empty, seed_demo
from storage.migrate import upgrade

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
    extras: dict[str, Any] = field(default_factory=dict)

    def channel_status(self) -> dict[str, bool]:
        s = self.settings
        return {"webchat": True, "telegram": s.telegram_enabled, "sms": s.sms_enabled}

    async def start(self) -> None:
        self.ticker.start()

    async def stop(self) -> None:
        await self.ticker.stop()
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
) -> Runtime:
    clock = clock or SystemClock()
    db = prepare_database(settings, clock)
    translator = Translator(settings.locales_dir, SUPPORTED_LOCALES, settings.default_locale)
    metrics = Metrics()
    consent = settings.consent
    rule = EligibilityRule(
        consent.eligible_tracks,
        consent.eligible_programs,
        timedelta(days=consent.active_within_days),
    )
    runner = TurnRunner(default_flows(), translator, clock, rule, consent.text_version)
    engine = Engine(db, runner, translator, clock, metrics)
    all_senders: dict[str, ChannelSender] = {"webchat": WebchatSender()}
    all_senders.update(senders or {})
    dispatcher = Dispatcher(db, all_senders, clock, metrics)
    ticker = Ticker(dispatcher, settings.scheduler)
    demo_chat = settings.uses_default_database and settings.environment != "production"
    return Runtime(settings, clock, db, translator, metrics, engine, dispatcher, ticker, demo_chat)
