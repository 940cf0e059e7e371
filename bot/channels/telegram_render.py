"""Reply -> Telegram messages: text split at 4,096 characters, choices as buttons.

Texts go out without `parse_mode`, so nothing a user typed (a name, an echoed answer) is ever
read as markup. Inline buttons carry `c:<choice id>` as callback data (at most 64 bytes); the
engine checks that the id is one the conversation offers now. When a reply asks for the phone,
Telegram allows only one keyboard per message, so the choices become text buttons on the same
one-time reply keyboard as "share my phone"; pressing one sends its label, which the engine maps
back to the choice.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
)

from bot.i18n import Gettext
from bot.messages import Attachment, Reply

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_BYTES = 64
CALLBACK_PREFIX = "c:"
INVALID_CHOICE = "!invalid"  # never offered: the engine answers "that button is no longer active"

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup


@dataclass(frozen=True, slots=True)
class Part:
    text: str
    markup: Markup | None = None
    attachment: Attachment | None = None  # a document (a photo for images); text = caption


def render(reply: Reply, t: Gettext) -> list[Part]:
    """The messages to send for one reply; the keyboard rides on the last one."""
    markup = _markup(reply, t)
    if reply.attachment is not None and len(reply.text) <= MAX_CAPTION:
        return [Part(reply.text, markup, reply.attachment)]  # one message: the file, captioned
    chunks = split_text(reply.text or "…")
    last = len(chunks) - 1
    parts = [Part(chunk, markup if i == last else None) for i, chunk in enumerate(chunks)]
    if reply.attachment is not None:
        parts.append(Part("", attachment=reply.attachment))
    return parts


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Cut at the last line break, else the last space, before the limit; else hard-cut."""
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[: limit + 1]
        cut = window.rfind("\n")
        if cut <= 0:
            cut = window.rfind(" ")
        if cut <= 0:
            cut = limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip("\n ")
    if rest or not parts:
        parts.append(rest)
    return [p for p in parts if p] or [text[:limit]]


def callback_data(choice_id: str) -> str | None:
    data = CALLBACK_PREFIX + choice_id
    return data if len(data.encode()) <= MAX_CALLBACK_BYTES else None


def parse_callback(data: str | None) -> str:
    """The choice id in our callback data; anything else becomes a choice nobody offered."""
    if not data or not data.startswith(CALLBACK_PREFIX) or len(data.encode()) > 64:
        return INVALID_CHOICE
    choice = data[len(CALLBACK_PREFIX) :]
    return choice if choice.isprintable() and choice else INVALID_CHOICE


def _markup(reply: Reply, t: Gettext) -> Markup | None:
    if reply.request_phone:
        share = KeyboardButton(text=t._("📱 Share my phone number"), request_contact=True)
        rows = [[share], *([KeyboardButton(text=c.label)] for c in reply.choices)]
        return ReplyKeyboardMarkup(keyboard=rows, one_time_keyboard=True, resize_keyboard=True)
    buttons = [
        [InlineKeyboardButton(text=c.label, callback_data=data)]
        for c in reply.choices
        if (data := callback_data(c.id)) is not None
    ]
    return InlineKeyboardMarkup(inline_keyboard=buttons) if buttons else None
