"""Deep links that tie a Telegram chat to a student: `https://t.me/<bot>?start=<signed token>`."""

from __future__ import annotations

from dataclasses import dataclass

from aiogram import Bot

from bot.links import make_link_token
from bot.settings import Settings


class LinksUnavailable(RuntimeError):
    """No link secret is configured, so no link can be signed."""


@dataclass(frozen=True, slots=True)
class DeepLink:
    lms_id: str
    token: str
    url: str


class LinkMaker:
    """Signs LMS ids; the bot's username comes from the settings or, once, from getMe."""

    def __init__(self, settings: Settings, bot: Bot | None) -> None:
        self._settings = settings
        self._bot = bot

    async def username(self) -> str:
        configured = self._settings.telegram.username
        if configured:
            return configured.lstrip("@")
        if self._bot is None:
            raise LinksUnavailable("set MENTORBOT_TELEGRAM__USERNAME or the bot token")
        me = await self._bot.me()  # aiogram caches it on the bot
        return me.username or ""

    async def link(self, lms_id: str) -> DeepLink:
        """Raises LinksUnavailable (no secret) or bot.links.LinkTokenError (id too long)."""
        secret = self._settings.telegram.link_secret
        if secret is None:
            raise LinksUnavailable("set MENTORBOT_TELEGRAM__LINK_SECRET to create links")
        token = make_link_token(lms_id, secret.get_secret_value())
        return DeepLink(lms_id, token, f"https://t.me/{await self.username()}?start={token}")
