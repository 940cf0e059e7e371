"""Telegram update -> what mentorbot does with it (pure; no I/O).

Decisions, each deliberate:
- private text, commands (`/start <payload>` puts the payload in `link_token`), button presses
  and the sender's *own* contact become a turn of the conversation;
- someone else's contact card, stickers, photos (captions too), voice, video, documents, ... in a
  private chat get a polite localized notice, recorded and sent through the delivery path;
- edited messages are ignored: an answer already acted on (a consent decision, a phone number)
  must not change behind the person's back, and re-running it would ask the next question twice;
- `my_chat_member` in a private chat says whether the person blocked the bot ("kicked") or
  unblocked it ("member" again): the chat is marked unreachable or reachable, so nudges fall back
  to SMS while blocked and come back to Telegram after;
- groups, supergroups, channel posts and every other update type are ignored (the bot is
  one-to-one; it never speaks in a group).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from aiogram.types import CallbackQuery, ChatMemberUpdated, Message, Update
from aiogram.types.update import UpdateTypeLookupError

from bot.channels.telegram_render import parse_callback
from bot.messages import Channel, Inbound, start_payload


class Notice(StrEnum):
    NOT_TEXT = "not_text"
    NOT_OWN_CONTACT = "not_own_contact"


@dataclass(frozen=True, slots=True)
class Turn:
    inbound: Inbound
    callback_query_id: str | None = None


@dataclass(frozen=True, slots=True)
class Notify:
    inbound: Inbound  # text is empty; identifies the chat and dedupes by update id
    notice: Notice


@dataclass(frozen=True, slots=True)
class Ignore:
    reason: str
    callback_query_id: str | None = None


@dataclass(frozen=True, slots=True)
class Reachability:
    address: str  # the private chat
    reachable: bool


Action = Turn | Notify | Ignore | Reachability
# The bot's status in a private chat after the person blocked it, and after they unblocked it.
_REACHABLE_BY_STATUS = {"kicked": False, "member": True}


def classify(update: Update) -> Action:
    if update.message is not None:
        return _message(update.update_id, update.message)
    if update.callback_query is not None:
        return _callback(update.update_id, update.callback_query)
    if update.my_chat_member is not None:
        return _membership(update.my_chat_member)
    if update.edited_message is not None:
        return Ignore("edited message")
    if update.channel_post is not None or update.edited_channel_post is not None:
        return Ignore("channel post")
    return Ignore(f"update type {_event_type(update)}")


def _event_type(update: Update) -> str:
    """The update's type; a type newer than this aiogram is "unknown", not an error."""
    try:
        return update.event_type
    except UpdateTypeLookupError:
        return "unknown"


def _base(update_id: int, message: Message, **fields: object) -> Inbound:
    user = message.from_user
    return Inbound(
        channel=Channel.TELEGRAM,
        address=str(message.chat.id),
        external_id=f"tg:{update_id}",
        locale_hint=user.language_code if user else None,
        display_name=user.first_name if user else None,
        **fields,  # type: ignore[arg-type]
    )


def _message(update_id: int, message: Message) -> Action:
    if message.chat.type != "private":
        return Ignore(f"{message.chat.type} chat")
    if message.from_user is None or message.from_user.is_bot:
        return Ignore("no human sender")
    if message.text is not None:
        return Turn(
            _base(update_id, message, text=message.text, link_token=start_payload(message.text))
        )
    contact = message.contact
    if contact is not None and contact.user_id == message.from_user.id:
        phone = _international(contact.phone_number)
        return Turn(_base(update_id, message, contact_phone=phone))
    notice = Notice.NOT_OWN_CONTACT if contact is not None else Notice.NOT_TEXT
    return Notify(_base(update_id, message), notice)


def _membership(event: ChatMemberUpdated) -> Action:
    if event.chat.type != "private":
        return Ignore(f"membership in a {event.chat.type} chat")
    status = str(event.new_chat_member.status)
    reachable = _REACHABLE_BY_STATUS.get(status)
    if reachable is None:
        return Ignore(f"bot status {status}")
    return Reachability(str(event.chat.id), reachable)


def _callback(update_id: int, query: CallbackQuery) -> Action:
    message = query.message
    chat = message.chat if message is not None else None
    if chat is not None and chat.type != "private":
        return Ignore(f"button in a {chat.type} chat", query.id)
    user = query.from_user
    inbound = Inbound(
        channel=Channel.TELEGRAM,
        address=str(chat.id if chat is not None else user.id),
        external_id=f"tg:{update_id}",
        choice_id=parse_callback(query.data),
        locale_hint=user.language_code,
        display_name=user.first_name,
    )
    return Turn(inbound, query.id)


def _international(phone: str) -> str:
    """Telegram shares a contact's number as digits with the country code but no "+"
    ("447911123456"): without it the number would be read as a US one and refused."""
    digits = phone.strip()
    return "+" + digits if digits.isdigit() else digits
