"""The Telegram channel, composed: aiogram client, sender, update processor, routes, service.

`telegram_parts(runtime)` is what `bot.app.attach_channels` plugs in when a token is set.
Polling (default) runs our poller as a service; webhook mode registers
`{public_url}/telegram/webhook` with Telegram and checks its secret header on every call.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from bot.channels.base import ChannelParts
from bot.channels.telegram_links import LinkMaker
from bot.channels.telegram_menus import TelegramMenus
from bot.channels.telegram_pacing import ChatPacers, Pacer
from bot.channels.telegram_polling import ALLOWED_UPDATES, Poller
from bot.channels.telegram_sender import Pacing, TelegramSender
from bot.channels.telegram_updates import UpdateProcessor
from bot.channels.telegram_webhook import WEBHOOK_PATH, telegram_router
from bot.i18n import Gettext
from bot.messages import Outbound
from bot.settings import Settings
from bot.shared_pacing import SharedSlots
from storage.tables import Person

log = structlog.get_logger("mentorbot.telegram")


def make_bot(settings: Settings) -> Bot:
    tg = settings.telegram
    if tg.token is None:
        raise ValueError("MENTORBOT_TELEGRAM__TOKEN is not set")
    session = AiohttpSession(
        api=TelegramAPIServer.from_base(tg.api_base), timeout=tg.request_timeout
    )
    return Bot(tg.token.get_secret_value(), session=session)


class TelegramService:
    """Start: menus (in the background), then the poller or the webhook. Stop: the reverse."""

    def __init__(
        self,
        bot: Bot,
        settings: Settings,
        processor: UpdateProcessor,
        menus: TelegramMenus,
        poller: Poller | None,
    ) -> None:
        self._bot = bot
        self._settings = settings
        self._processor = processor
        self._menus = menus
        self._poller = poller
        self._menu_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._menu_task = asyncio.create_task(self._sync_menus())
        if self._poller is not None:
            await self._poller.start()
            return
        tg = self._settings.telegram
        url = self._settings.public_url.rstrip("/") + WEBHOOK_PATH
        secret = tg.webhook_secret.get_secret_value() if tg.webhook_secret else None
        try:
            await self._bot.set_webhook(
                url=url, secret_token=secret, allowed_updates=ALLOWED_UPDATES
            )
        except Exception:  # the app still serves; Telegram just cannot reach us yet
            log.exception("telegram.set_webhook_failed", url=url)

    async def stop(self) -> None:
        if self._poller is not None:
            await self._poller.stop()
        if self._menu_task is not None:
            self._menu_task.cancel()
            await asyncio.gather(self._menu_task, return_exceptions=True)
        await self._processor.close()
        await self._bot.session.close()

    async def _sync_menus(self) -> None:
        try:
            await self._menus.sync_all()
        except Exception:
            log.exception("telegram.menu_sync_failed")


def _locale_lookup(runtime: Any) -> Any:
    async def locale_of(outbound: Outbound) -> Gettext:
        locale = None
        if outbound.reply.request_phone and outbound.person_id is not None:
            person_id = outbound.person_id
            locale = await runtime.db.run(
                lambda s: getattr(s.get(Person, person_id), "locale", None)
            )
        return runtime.translator.for_locale(locale)

    return locale_of


MENU_SYNC_SECONDS = 60.0  # how soon a role change made elsewhere reaches the menus


def telegram_parts(runtime: Any, *, bot: Bot | None = None) -> ChannelParts:
    settings: Settings = runtime.settings
    tg = settings.telegram
    if tg.mode == "webhook" and tg.webhook_secret is None:
        raise ValueError("webhook mode needs MENTORBOT_TELEGRAM__WEBHOOK_SECRET")
    bot = bot or make_bot(settings)
    pacing = Pacing(Pacer(tg.rate_per_second), ChatPacers(tg.per_chat_per_second))
    if runtime.db.dialect == "postgresql":  # several processes may send with this token
        shared = SharedSlots(runtime.db)
        # Same-chat sends of this process already keep the shared slot's width, so a chat's
        # next slot is free when its turn comes and never holds the bot's slot back.
        chats = ChatPacers(tg.per_chat_per_second / (1 + shared.margin))
        pacing = Pacing(Pacer(tg.rate_per_second), chats, shared)
    sender = TelegramSender(bot, pacing, _locale_lookup(runtime))
    processor = UpdateProcessor(bot, runtime)
    menus = TelegramMenus(bot, runtime)
    links = LinkMaker(settings, bot, runtime.db, runtime.clock)
    poller = Poller(bot, processor) if tg.mode == "polling" else None
    runtime.extras.update(telegram_menus=menus, telegram_links=links, telegram_bot=bot)
    runtime.ticker.add_job("telegram-menus", MENU_SYNC_SECONDS, menus.sync_changes)
    return ChannelParts(
        sender=sender,
        router=telegram_router(settings, processor, links),
        service=TelegramService(bot, settings, processor, menus, poller),
    )
