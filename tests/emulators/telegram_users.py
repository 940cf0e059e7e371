"""Acting as Telegram users: each action builds an Update with python-telegram-bot types."""

from __future__ import annotations

import datetime as dt
from typing import Any

import telegram

from tests.emulators.telegram_settings import BotSettings
from tests.emulators.telegram_wire import (
    callback_datas,
    channel_chat,
    command_entities,
    group_chat,
    make_user,
    now,
    photo_sizes,
    private_chat,
    sticker,
    voice,
)

CALLBACK_ID_BASE = 4_000_000_000_000_000
FOREVER = dt.datetime.fromtimestamp(0, dt.UTC)  # until_date 0 on the wire: banned for good


class UserActions(BotSettings):
    """User-side actions; `emit` (polling queue or webhook POST) is provided by the server."""

    async def emit(self, update: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def register_chat(self, chat_id: int, *, first_name: str = "Ann",
                      language_code: str | None = "en", title: str = "Test group") -> None:
        """Make a chat known before anyone acts: a user's private chat (id > 0) or a group."""
        if chat_id > 0:
            self._private(chat_id, first_name, language_code)
        else:
            self.chats[chat_id] = group_chat(chat_id, title)

    def _private(self, user_id: int, first_name: str,
                 language_code: str | None) -> tuple[telegram.User, telegram.Chat]:
        user = self.users[user_id] = make_user(user_id, first_name, language_code)
        chat = self.chats[user_id] = private_chat(user)
        return user, chat

    def _next_update(self, **event: Any) -> dict[str, Any]:
        self.last_update_id += 1
        return telegram.Update(self.last_update_id, **event).to_dict()

    async def _user_message(self, user_id: int, first_name: str, language_code: str | None,
                            **fields: Any) -> dict[str, Any]:
        user, chat = self._private(user_id, first_name, language_code)
        message = self.store_message(chat, user, **fields)
        return await self.emit(self._next_update(message=message))

    async def user_sends_text(self, user_id: int, text: str, *, first_name: str = "Ann",
                              language_code: str | None = "en") -> dict[str, Any]:
        return await self._user_message(user_id, first_name, language_code, text=text,
                                        entities=command_entities(text) or None)

    async def user_sends_command(self, user_id: int, command: str, args: str = "", *,
                                 first_name: str = "Ann",
                                 language_code: str | None = "en") -> dict[str, Any]:
        text = f"/{command.lstrip('/')}" + (f" {args}" if args else "")
        return await self._user_message(user_id, first_name, language_code, text=text,
                                        entities=command_entities(text))

    async def user_shares_contact(self, user_id: int, phone_number: str, *, own: bool = True,
                                  first_name: str = "Ann", language_code: str | None = "en",
                                  other_user_id: int | None = None) -> dict[str, Any]:
        """Own contact (user_id matches the sender), or someone else's card when own=False."""
        owner = user_id if own else (other_user_id or user_id + 1_000_000)
        contact = telegram.Contact(phone_number, first_name if own else "Bob", user_id=owner)
        return await self._user_message(user_id, first_name, language_code, contact=contact)

    async def user_sends_sticker(self, user_id: int, emoji: str = "👍", *,
                                 first_name: str = "Ann",
                                 language_code: str | None = "en") -> dict[str, Any]:
        return await self._user_message(user_id, first_name, language_code,
                                        sticker=sticker(f"{user_id}-{self.last_update_id}", emoji))

    async def user_sends_photo(self, user_id: int, caption: str | None = None, *,
                               first_name: str = "Ann",
                               language_code: str | None = "en") -> dict[str, Any]:
        return await self._user_message(user_id, first_name, language_code, caption=caption,
                                        photo=photo_sizes(f"{user_id}-{self.last_update_id}"))

    async def user_sends_voice(self, user_id: int, duration: int = 3, *, first_name: str = "Ann",
                               language_code: str | None = "en") -> dict[str, Any]:
        return await self._user_message(user_id, first_name, language_code,
                                        voice=voice(f"{user_id}-{self.last_update_id}", duration))

    async def user_edits_message(self, user_id: int, message_id: int,
                                 text: str) -> dict[str, Any]:
        old = self.messages.get((user_id, message_id))
        if old is None or old.from_user is None or old.from_user.id != user_id:
            raise ValueError(f"user {user_id} has no message {message_id} to edit")
        edited = telegram.Message(message_id, old.date, old.chat, from_user=old.from_user,
                                  text=text, entities=command_entities(text) or None,
                                  edit_date=now())
        self.messages[(user_id, message_id)] = edited
        return await self.emit(self._next_update(edited_message=edited))

    async def user_presses_button(self, user_id: int, message_id: int, callback_data: str, *,
                                  first_name: str = "Ann", language_code: str | None = "en",
                                  check_keyboard: bool = True) -> str:
        """Press an inline button on a bot message in the user's chat; returns the query id."""
        message = self.messages.get((user_id, message_id))
        if message is None or message.from_user != self.bot_user:
            raise ValueError(f"the bot sent no message {message_id} to chat {user_id}")
        if check_keyboard and callback_data not in callback_datas(message.reply_markup):
            raise ValueError(f"message {message_id} has no button with {callback_data!r}")
        user, _ = self._private(user_id, first_name, language_code)
        query_id = str(CALLBACK_ID_BASE + self.last_update_id + 1)
        self.open_callbacks.add(query_id)
        query = telegram.CallbackQuery(query_id, user, chat_instance=str(user_id * 7919),
                                       message=message, data=callback_data)
        await self.emit(self._next_update(callback_query=query))
        return query_id

    async def user_blocks_bot(self, user_id: int, *, first_name: str = "Ann",
                              language_code: str | None = "en") -> dict[str, Any]:
        """Sends to the user fail with 403 from now on, and the bot gets `my_chat_member`:
        its status in the private chat goes from "member" to "kicked", as on Telegram."""
        self.blocked.add(user_id)
        return await self._membership(user_id, first_name, language_code, blocked=True)

    async def user_unblocks_bot(self, user_id: int, *, first_name: str = "Ann",
                                language_code: str | None = "en") -> dict[str, Any]:
        """The user unblocks ("Restart"): "kicked" back to "member"; sends work again."""
        self.blocked.discard(user_id)
        return await self._membership(user_id, first_name, language_code, blocked=False)

    async def _membership(self, user_id: int, first_name: str, language_code: str | None, *,
                          blocked: bool) -> dict[str, Any]:
        user, chat = self._private(user_id, first_name, language_code)
        member = telegram.ChatMemberMember(self.bot_sender)
        banned = telegram.ChatMemberBanned(self.bot_sender, FOREVER)
        old, new = (member, banned) if blocked else (banned, member)
        event = telegram.ChatMemberUpdated(chat, user, now(), old, new)
        return await self.emit(self._next_update(my_chat_member=event))

    async def group_message(self, chat_id: int, user_id: int, text: str, *,
                            title: str = "Test group", first_name: str = "Ann",
                            language_code: str | None = "en") -> dict[str, Any]:
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        chat = self.chats.setdefault(chat_id, group_chat(chat_id, title))
        user = self.users[user_id] = make_user(user_id, first_name, language_code)
        message = self.store_message(chat, user, text=text,
                                     entities=command_entities(text) or None)
        return await self.emit(self._next_update(message=message))

    async def channel_post(self, chat_id: int, text: str, *,
                           title: str = "Test channel") -> dict[str, Any]:
        chat = self.chats.setdefault(chat_id, channel_chat(chat_id, title))
        message = self.store_message(chat, None, text=text, sender_chat=chat)
        return await self.emit(self._next_update(channel_post=message))

    async def push_raw_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Emit any dict as-is; keeps a given update_id, so duplicates are possible."""
        update = dict(update)
        if "update_id" not in update:
            self.last_update_id += 1
            update["update_id"] = self.last_update_id
        elif isinstance(update["update_id"], int):
            self.last_update_id = max(self.last_update_id, update["update_id"])
        return await self.emit(update)
