"""One update, from the webhook or the poller, through the engine and out via the outbox.

The turn (message log, conversation, replies as pending deliveries) commits before we return,
so the webhook can answer 200 as soon as the update is durable; sending then happens in the
background, one chat at a time in order, while other chats proceed. Anything not sent by then
(a crash, a retry) is picked up by `Dispatcher.drain`.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import Update
from pydantic import ValidationError

from bot.channels.telegram_inbound import Ignore, Notice, Notify, Reachability, Turn, classify
from bot.i18n import Gettext
from bot.locks import KeyedLocks
from bot.messages import Channel, Outbound, Reply
from storage.people import set_reachable

log = structlog.get_logger("mentorbot.telegram.updates")


def notice_text(notice: Notice, t: Gettext) -> str:
    if notice is Notice.NOT_OWN_CONTACT:
        return t._(
            "That looks like someone else's contact card. To share your own number, use the "
            "“Share my phone number” button or type your number."
        )
    return t._("Sorry, I can only read text messages. Please type your answer.")


class UpdateProcessor:
    def __init__(self, bot: Bot, runtime: Any) -> None:
        self._bot = bot
        self._runtime = runtime
        self._chat_locks = KeyedLocks()
        self._deliveries: set[asyncio.Task[None]] = set()

    def parse(self, raw: object) -> Update | None:
        """A validated update, or None (logged) for anything malformed."""
        if not isinstance(raw, dict):
            log.warning("telegram.update_malformed", reason="not an object")
            return None
        try:
            return Update.model_validate(raw, context={"bot": self._bot})
        except ValidationError as exc:
            log.warning(
                "telegram.update_malformed",
                update_id=raw.get("update_id"),
                errors=exc.error_count(),
            )
            return None

    async def process_raw(self, raw: object) -> None:
        update = self.parse(raw)
        if update is not None:
            await self.process(update)

    async def process(self, update: Update) -> None:
        action = classify(update)
        callback_id = action.callback_query_id if isinstance(action, Turn | Ignore) else None
        if callback_id is not None:
            await self._answer_callback(callback_id)  # first, so the button stops spinning
        if isinstance(action, Turn):
            handled = await self._runtime.engine.handle(action.inbound)
            self._deliver_later(handled.outbound)
        elif isinstance(action, Notify):
            notice = action.notice
            handled = await self._runtime.engine.answer_outside_flows(
                action.inbound, lambda t: Reply(notice_text(notice, t)), f"[{notice.value}]"
            )
            self._deliver_later(handled.outbound)
        elif isinstance(action, Reachability):
            await self._set_reachable(action)
        elif isinstance(action, Ignore):
            log.debug("telegram.update_ignored", update_id=update.update_id, reason=action.reason)

    async def close(self, grace: float = 10.0) -> None:
        """Let queued sends finish (bounded); what is left stays pending in the outbox."""
        pending = list(self._deliveries)
        if not pending:
            return
        _done, late = await asyncio.wait(pending, timeout=grace)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)

    async def _set_reachable(self, action: Reachability) -> None:
        """Blocked: nudges go to SMS instead (the planner and cascade skip unreachable chats);
        unblocked: back to Telegram. Setting a state is idempotent, so a redelivery is harmless."""
        log.info("telegram.chat_reachability", reachable=action.reachable)
        await self._runtime.db.run(
            lambda s: set_reachable(s, Channel.TELEGRAM, action.address, action.reachable)
        )

    async def _answer_callback(self, query_id: str) -> None:
        try:
            await self._bot.answer_callback_query(callback_query_id=query_id)
        except TelegramAPIError as exc:  # too old, or Telegram hiccup: the turn still runs
            log.info("telegram.callback_answer_failed", error=exc.message)

    def _deliver_later(self, outbound: list[Outbound]) -> None:
        if not outbound:
            return
        task = asyncio.create_task(self._deliver_in_order(outbound))
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)

    async def _deliver_in_order(self, outbound: list[Outbound]) -> None:
        try:
            async with self._chat_locks.hold(outbound[0].address):
                await self._runtime.dispatcher.deliver(outbound)
        except Exception:  # the rows stay pending; drain() retries them
            log.exception("telegram.deliver_failed", deliveries=[o.delivery_id for o in outbound])
