"""The engine: Inbound -> flow step -> replies, in one transaction, serialised per person."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import structlog
from sqlmodel import Session

from bot.clock import Clock
from bot.engine_types import Handled
from bot.i18n import Gettext, Translator
from bot.locks import KeyedLocks
from bot.messages import Inbound, Outbound, Reply
from bot.metrics import Metrics
from bot.text import clean_text
from bot.turn import TurnRunner
from handlers.copy import apology
from storage.conversations import StaleConversation
from storage.database import Database
from storage.outbox import add_replies
from storage.people import person_by_identity
from storage.tables import MessageLog
from storage.upsert import insert_ignore

log = structlog.get_logger("mentorbot.engine")
_RETRIES = 3


class Engine:
    def __init__(
        self,
        db: Database,
        runner: TurnRunner,
        translator: Translator,
        clock: Clock,
        metrics: Metrics,
    ) -> None:
        self._db = db
        self._runner = runner
        self._translator = translator
        self._clock = clock
        self._metrics = metrics
        self._locks = KeyedLocks()
        self.after_commit: list[Callable[[list[Outbound]], Any]] = []

    async def handle(self, inbound: Inbound) -> Handled:
        inbound = replace(
            inbound,
            text=clean_text(inbound.text),
            received_at=inbound.received_at or self._clock.now(),
        )
        async with self._locks.hold((inbound.channel, inbound.address)):
            result = await self._handle_locked(inbound)
        self._metrics.inbound(inbound.channel, result.duplicate)
        return result

    async def _handle_locked(self, inbound: Inbound) -> Handled:
        for attempt in range(_RETRIES):
            try:
                return await self._db.run(lambda s: self._runner.run(s, inbound))
            except StaleConversation:
                log.info("conversation.retry", attempt=attempt, channel=inbound.channel)
            except Exception:
                log.exception(
                    "engine.turn_failed",
                    channel=inbound.channel,
                    address_hash=hash(inbound.address),
                    external_id=inbound.external_id,
                )
                self._metrics.error()
                return await self._db.run(lambda s: self._apologise(s, inbound))
        return await self._db.run(lambda s: self._apologise(s, inbound))

    async def answer_outside_flows(
        self, inbound: Inbound, reply: Callable[[Gettext], Reply], logged_text: str | None = None
    ) -> Handled:
        """Log an inbound message and answer it without running a flow (a notice, an apology);
        a redelivered message is recognised as a duplicate, like any turn."""
        async with self._locks.hold((inbound.channel, inbound.address)):
            return await self._db.run(lambda s: self._answer(s, inbound, reply, logged_text))

    def _apologise(self, session: Session, inbound: Inbound) -> Handled:
        """The conversation state is untouched: only the message and the apology are stored."""
        return self._answer(session, inbound, apology, None)

    def _answer(
        self,
        session: Session,
        inbound: Inbound,
        reply: Callable[[Gettext], Reply],
        logged_text: str | None,
    ) -> Handled:
        now = self._clock.now()
        person = person_by_identity(session, inbound.channel, inbound.address)
        person_id = person.id if person else None
        row = dict(
            channel=inbound.channel,
            external_id=inbound.external_id,
            person_id=person_id,
            direction="in",
            text=logged_text or inbound.text,
            created_at=now,
        )
        if not insert_ignore(session, MessageLog.__table__, row):
            return Handled(duplicate=True)
        t = self._translator.for_locale(person.locale if person else inbound.locale_hint)
        outbound = add_replies(
            session,
            person_id=person_id,
            channel=inbound.channel,
            address=inbound.address,
            replies=[reply(t)],
            now=now,
        )
        return Handled(False, outbound, person_id)
