"""Deep links that tie a Telegram chat to a student: `https://t.me/<bot>?start=<token>`.

Every link is new: a random token, single-use, valid for `MENTORBOT_TELEGRAM__LINK_TTL_DAYS`;
only its hash is stored (`storage/student_links.py`). Opening one is `bot/deep_links.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from aiogram import Bot
from sqlmodel import Session

from bot.clock import Clock
from bot.settings import Settings
from storage import audit, student_links
from storage.database import Database


class LinksUnavailable(RuntimeError):
    """The bot's username is unknown (no username setting and no bot token), so no link."""


class UnknownStudent(LookupError):
    """No student has that LMS id (import the student first)."""


@dataclass(frozen=True, slots=True)
class DeepLink:
    lms_id: str
    token: str
    url: str
    expires_at: datetime


class LinkMaker:
    """Makes students' links; the bot's username comes from the settings or, once, from getMe."""

    def __init__(self, settings: Settings, bot: Bot | None, db: Database, clock: Clock) -> None:
        self._settings = settings
        self._bot = bot
        self._db = db
        self._clock = clock

    async def username(self) -> str:
        configured = self._settings.telegram.username
        if configured:
            return configured.lstrip("@")
        if self._bot is None:
            raise LinksUnavailable("set MENTORBOT_TELEGRAM__USERNAME or the bot token")
        me = await self._bot.me()  # aiogram caches it on the bot
        return me.username or ""

    async def link(self, lms_id: str, actor: str = "api") -> DeepLink:
        """A new link on every call. Raises LinksUnavailable or UnknownStudent."""
        username = await self.username()  # first: no token is stored for a link never shown
        ttl = timedelta(days=self._settings.telegram.link_ttl_days)
        now = self._clock.now()
        def work(session: Session) -> student_links.NewLink | None:
            made = student_links.create_link(session, lms_id, now, ttl)
            if made is not None:  # an admin's act: the link makes whoever opens it the student
                audit.record(session, actor=actor, action="student_link.create", now=now,
                             params={"person": made.person_id})  # fmt: skip
            return made

        made = await self._db.run(work)
        if made is None:
            raise UnknownStudent(f"no student has the LMS id {lms_id!r}")
        url = f"https://t.me/{username}?start={made.token}"
        return DeepLink(lms_id, made.token, url, made.expires_at)
