"""Sends deliveries to Telegram: paced, retried where that is safe, never blindly resent.

Outcomes, per message part (a long text is several parts):
- 429 `retry_after`: wait that long and send the same part again (Telegram did not accept it);
  only this message waits, other chats keep going.
- 5xx, or a connection that could not be opened: back off (0.5 s, 1 s, 2 s) and try again.
  After that the delivery goes back to the outbox for a later attempt, unless a part already
  went out (then it fails as "partial": resending would duplicate the parts people have).
- 403 "bot was blocked" / "chat not found": `unreachable=True`, no retries; the dispatcher marks
  the identity unreachable so nudges fall back to SMS.
- A timeout or a dropped connection *after the request was sent*: the outcome is unknown (Telegram
  may have delivered it and has no idempotency key). We do not resend: the delivery fails with
  error "unknown outcome: ..." so an operator can review it. A lost message is better than a
  duplicated consent question or nudge; timeouts are rare with a sane `request_timeout`.
- Any other 4xx: failed, no retry (the request itself is wrong).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import BufferedInputFile, Message
from aiohttp import ClientConnectorError

from bot.channels.base import NOT_STARTED, Begin, SendResult
from bot.channels.telegram_pacing import ChatPacers, Pacer, Sleep
from bot.channels.telegram_render import Part, render
from bot.i18n import Gettext
from bot.messages import Channel, Outbound
from bot.shared_pacing import SharedSlots, chat_key

log = structlog.get_logger("mentorbot.telegram.sender")
BACKOFF = (0.5, 1.0, 2.0)
MAX_RETRY_AFTERS = 10

LocaleOf = Callable[[Outbound], Awaitable[Gettext]]


class _Unsent(Exception):
    """Sending this part failed; `result` says what the dispatcher should do."""

    def __init__(self, result: SendResult) -> None:
        super().__init__(result.error)
        self.result = result


@dataclass(frozen=True, slots=True)
class Pacing:
    overall: Pacer
    per_chat: ChatPacers
    shared: SharedSlots | None = None  # PostgreSQL: the limits hold across processes

    def shared_keys(self, chat: str) -> list[tuple[str, float]]:
        return [(chat_key("telegram", chat), self.per_chat.interval),
                ("telegram", self.overall.interval)]  # fmt: skip


class TelegramSender:
    name = Channel.TELEGRAM
    # Telegram cannot tell whether a call whose answer we lost went through: after a crash the
    # one call in flight is resent (one duplicate at most), so calls go one at a time.
    one_call_at_a_time = True

    def __init__(
        self, bot: Bot, pacing: Pacing, locale_of: LocaleOf, *, sleep: Sleep = asyncio.sleep
    ) -> None:
        self._bot = bot
        self._pacing = pacing
        self._locale_of = locale_of
        self._sleep = sleep

    async def send(self, outbound: Outbound, begin: Begin) -> SendResult:
        parts = render(outbound.reply, await self._locale_of(outbound))
        # Before pacing: the dispatcher's one-call lock is then never waited for by a send
        # that holds a pacer slot (a retry holding the lock needs a slot again).
        if not await begin():
            return NOT_STARTED
        sent: list[str] = []
        for part in parts:
            try:
                sent.append(await self._send_part(outbound.address, part))
            except _Unsent as unsent:
                result = _partial(unsent.result, len(sent), len(parts))
                log.warning("telegram.send_failed", delivery=outbound.delivery_id,
                            error=result.error, retry=result.retry,
                            unreachable=result.unreachable)  # fmt: skip
                return result
        return SendResult(ok=True, external_id=",".join(sent))

    async def _send_part(self, chat: str, part: Part) -> str:
        retry_afters, failures = 0, 0
        while True:
            try:
                message_id = await self._paced_call(chat, part)
                return f"{chat}:{message_id}"
            except TelegramRetryAfter as exc:
                retry_afters += 1
                if retry_afters > MAX_RETRY_AFTERS:
                    error = f"429: {exc.message}"
                    raise _Unsent(SendResult(False, error=error, retry=True)) from exc
                log.warning("telegram.retry_after", seconds=exc.retry_after)
                await self._sleep(exc.retry_after)
            except (TelegramServerError, TelegramNetworkError) as exc:
                if not _safe_to_retry(exc):
                    error = f"unknown outcome: {exc.message}"
                    raise _Unsent(SendResult(False, error=error, retry=False)) from exc
                if failures >= len(BACKOFF):
                    raise _Unsent(SendResult(False, error=exc.message, retry=True)) from exc
                await self._sleep(BACKOFF[failures])
                failures += 1
            except (TelegramForbiddenError, TelegramBadRequest) as exc:
                raise _Unsent(_refused(exc)) from exc

    async def _paced_call(self, chat: str, part: Part) -> int:
        chat_pacer = self._pacing.per_chat.for_chat(chat)
        await chat_pacer.acquire()
        try:
            await self._pacing.overall.acquire()
            try:
                if self._pacing.shared is not None:
                    await self._pacing.shared.wait(self._pacing.shared_keys(chat))
                message = await self._call(int(chat), part)
            finally:
                self._pacing.overall.release()
        finally:
            chat_pacer.release()
        return message.message_id


    async def _call(self, chat: int, part: Part) -> Message:
        file = part.attachment
        if file is None:
            return await self._bot.send_message(chat_id=chat, text=part.text,
                                                reply_markup=part.markup)  # fmt: skip
        upload = BufferedInputFile(file.data, filename=file.name)
        caption = part.text or None
        if file.is_image:
            return await self._bot.send_photo(chat_id=chat, photo=upload, caption=caption,
                                              reply_markup=part.markup)  # fmt: skip
        return await self._bot.send_document(chat_id=chat, document=upload, caption=caption,
                                             reply_markup=part.markup)  # fmt: skip


def _safe_to_retry(exc: TelegramServerError | TelegramNetworkError) -> bool:
    """5xx answers and refused connections: Telegram did not take the message."""
    if isinstance(exc, TelegramServerError):
        return True
    return isinstance(exc.__cause__, ClientConnectorError)


def _refused(exc: TelegramForbiddenError | TelegramBadRequest) -> SendResult:
    text = exc.message.lower()
    unreachable = isinstance(exc, TelegramForbiddenError) or "chat not found" in text
    return SendResult(False, error=exc.message, retry=False, unreachable=unreachable)


def _partial(result: SendResult, sent: int, total: int) -> SendResult:
    if sent == 0:
        return result
    error = f"partial: sent {sent} of {total} parts; {result.error}"
    return SendResult(False, error=error, retry=False, unreachable=result.unreachable)
