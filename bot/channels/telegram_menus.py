"""Command menus by role (`setMyCommands` scopes), localized in every supported language.

Students get the menu of every private chat (and the default scope), once per language.
Mentors (role "mentor" with a Telegram identity) and admins (`settings.admin_telegram_ids`) get
their own menu in their own chat (`BotCommandScopeChat`, in the person's language). Menus are
synced at start-up; whoever changes a role calls `refresh_for(person_id)`, which also deletes a
chat menu on demotion so the student menu shows again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import structlog
from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    BotCommandScopeDefault,
)
from sqlalchemy import select
from sqlmodel import Session

from bot.i18n import N_, Gettext
from bot.messages import Channel
from storage.tables import Identity, Person

log = structlog.get_logger("mentorbot.telegram.menus")

START = ("start", N_("Start over"))
SETTINGS = ("settings", N_("Phone, language and coaching"))
HELP = ("help", N_("What I can do"))
STUDENT_MENU = (
    START,
    ("goals", N_("Your goals for the week")),
    ("plan", N_("Your study plan for the week")),
    ("progress", N_("Streaks, points and badges")),
    SETTINGS,
    HELP,
    ("mentor", N_("Talk to your mentor")),
)
# Only commands that work: staff menus grow as their features land.
MENTOR_MENU = (
    ("queue", N_("Requests waiting for a mentor")),
    ("mine", N_("Conversations you hold")),
    ("release", N_("Hand the student back to the bot")),
    ("available", N_("on|off: get new requests or not")),
    SETTINGS,
    HELP,
)
# Admins take escalations too; their own commands are those that work (handlers/admin.py).
ADMIN_MENU = (
    ("stats", N_("Results: consent, campaigns, mentors; charts")),
    ("campaigns", N_("Campaigns: results, pause, resume")),
    ("broadcast", N_("An approved message to a group of students")),
    ("find", N_("NAME or LMS id: a student's card")),
    ("mentors", N_("Mentors: load, invite, remove")),
    ("admins", N_("Admins: list, invite")),
    ("review", N_("Deliveries held for review: resend or drop")),
    ("export", N_("CSV files: consent, deliveries, escalations, results")),
    ("audit", N_("The latest admin actions")),
    *MENTOR_MENU,
)


def commands(menu: Sequence[tuple[str, str]], t: Gettext) -> list[BotCommand]:
    return [BotCommand(command=name, description=t._(about)) for name, about in menu]


class TelegramMenus:
    def __init__(self, bot: Bot, runtime: Any) -> None:
        self._bot = bot
        self._runtime = runtime
        self._applied: dict[int, tuple[str, str | None]] = {}  # chat -> (menu, locale) set

    @property
    def _admins(self) -> set[int]:
        return set(self._runtime.settings.admin_telegram_ids)

    async def sync_all(self) -> None:
        """Student menus per language, then every mentor's and admin's own menu."""
        translator = self._runtime.translator
        for scope in (BotCommandScopeDefault(), BotCommandScopeAllPrivateChats()):
            await self._set(commands(STUDENT_MENU, translator.for_locale(None)), scope)
            for code in translator.supported:
                t = translator.for_locale(code)
                await self._set(commands(STUDENT_MENU, t), scope, code)
        staff = await self._staff()
        for chat_id, (role, locale) in staff.items():
            await self._set_chat(chat_id, role, locale)
        self._applied = self._menus_of(staff)

    async def sync_changes(self) -> int:
        """Role changes made anywhere (an import, another process) reach the chats' menus
        within a scheduler tick; a demoted person's chat loses its staff menu."""
        staff = await self._staff()
        wanted = self._menus_of(staff)
        changed = {
            c
            for c in wanted.keys() | self._applied.keys()
            if wanted.get(c) != self._applied.get(c)
        }
        for chat_id in changed:
            role, locale = staff.get(chat_id, (None, None))
            await self._set_chat(chat_id, role, locale)
        self._applied = wanted
        return len(changed)

    async def _staff(self) -> dict[int, tuple[str | None, str | None]]:
        staff = await self._runtime.db.run(_staff_chats)
        for chat_id in self._admins - set(staff):
            staff[chat_id] = (None, None)
        return staff

    def _menus_of(
        self, staff: dict[int, tuple[str | None, str | None]]
    ) -> dict[int, tuple[str, str | None]]:
        found = {}
        for chat_id, (role, locale) in staff.items():
            if self._menu_for(chat_id, role) is not None:
                admin = chat_id in self._admins or role == "admin"
                found[chat_id] = ("admin" if admin else "mentor", locale)
        return found

    async def refresh_for(self, person_id: int) -> None:
        """Call after a role change: the person's chats get the menu their role has now."""
        found = await self._runtime.db.run(lambda s: _chats_of(s, person_id))
        for chat_id, (role, locale) in found.items():
            await self._set_chat(chat_id, role, locale)

    async def _set_chat(self, chat_id: int, role: str | None, locale: str | None) -> None:
        menu = self._menu_for(chat_id, role)
        scope = BotCommandScopeChat(chat_id=chat_id)
        if menu is None:
            await self._call(self._bot.delete_my_commands(scope=scope), chat_id)
            return
        t = self._runtime.translator.for_locale(locale)
        await self._set(commands(menu, t), scope, chat=chat_id)

    def _menu_for(self, chat_id: int, role: str | None) -> Sequence[tuple[str, str]] | None:
        if chat_id in self._admins or role == "admin":
            return ADMIN_MENU
        return MENTOR_MENU if role == "mentor" else None

    async def _set(
        self,
        cmds: list[BotCommand],
        scope: Any,
        language: str | None = None,
        chat: int | None = None,
    ) -> None:
        call = self._bot.set_my_commands(commands=cmds, scope=scope, language_code=language)
        await self._call(call, chat)

    @staticmethod
    async def _call(call: Any, chat: int | None) -> None:
        try:
            await call
        except TelegramAPIError as exc:  # e.g. a chat that never opened the bot
            log.warning("telegram.menu_failed", chat=chat, error=exc.message)


def _rows(session: Session, where: Iterable[Any]) -> dict[int, tuple[str | None, str | None]]:
    statement = (
        select(Identity.address, Person.role, Person.locale)
        .join(Person, Person.id == Identity.person_id)
        .where(Identity.channel == Channel.TELEGRAM, *where)
    )
    found: dict[int, tuple[str | None, str | None]] = {}
    for address, role, locale in session.execute(statement):
        if address.lstrip("-").isdigit():
            found[int(address)] = (role, locale)
    return found


def _staff_chats(session: Session) -> dict[int, tuple[str | None, str | None]]:
    return _rows(session, [Person.role.in_(("mentor", "admin"))])  # type: ignore[attr-defined]


def _chats_of(session: Session, person_id: int) -> dict[int, tuple[str | None, str | None]]:
    return _rows(session, [Identity.person_id == person_id])
