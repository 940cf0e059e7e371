"""Bot API methods of the Telegram emulator, over its in-memory state (no HTTP here)."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections import Counter, deque
from itertools import islice
from typing import Any, ClassVar, NamedTuple

import telegram

from tests.emulators.telegram_state import (
    AnsweredCallback,
    FaultPlan,
    RateLimiter,
    SentLog,
    SentRecord,
    WebhookDelivery,
)
from tests.emulators.telegram_wire import (
    ApiError,
    bad_request,
    bool_param,
    checked_text,
    inline_markup,
    int_param,
    make_bot_user,
    message_sender,
    now,
    photo_sizes,
)

CONFLICT_WEBHOOK = ("Conflict: can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first")
CONFLICT_POLLER = ("Conflict: terminated by other getUpdates request; "
                   "make sure that only one bot instance is running")
# Update types Telegram sends only to a bot that lists them in allowed_updates.
ON_REQUEST_ONLY = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
NOT_MODIFIED = ("message is not modified: specified new message content and reply markup are "
                "exactly the same as a content and reply markup of the current content and reply "
                "markup of the message")


class Described(NamedTuple):
    """A result that Telegram answers with an extra top-level `description`."""

    result: Any
    description: str


class BotApiCore:
    """State of one bot plus its messaging methods; subclasses add settings, users and HTTP."""

    # Bot API name -> handler attribute; each class in the MRO may add its own.
    API_METHODS: ClassVar[dict[str, str]] = {
        "getMe": "get_me", "getUpdates": "get_updates", "sendMessage": "send_message",
        "sendPhoto": "send_photo", "sendDocument": "send_document",
        "sendChatAction": "send_chat_action",
        "editMessageText": "edit_message_text",
        "editMessageReplyMarkup": "edit_message_reply_markup",
        "answerCallbackQuery": "answer_callback_query",
    }

    def __init__(self, token: str, global_rate: float, per_chat_rate: float,
                 enforce_limits: bool) -> None:
        self.token = token
        self.bot_user = make_bot_user(token)
        self.bot_sender = message_sender(self.bot_user)
        self._rates = (global_rate, per_chat_rate, enforce_limits)
        self.closing = asyncio.Event()
        self.last_update_id = 0  # keeps growing across reset(), as update ids do on Telegram
        self._updates_changed = asyncio.Event()
        self._poll_generation = 0
        self.reset()
        self.methods = {name.lower(): (name, getattr(self, attr))
                        for cls in type(self).__mro__ for name, attr in
                        vars(cls).get("API_METHODS", {}).items()}

    def reset(self) -> None:
        """Forget users, chats, updates, sends, faults, windows and counters."""
        self.limiter = RateLimiter(*self._rates)
        self.faults = FaultPlan()
        self.log = SentLog()
        self.users: dict[int, telegram.User] = {}
        self.chats: dict[int, telegram.Chat] = {}
        self.blocked: set[int] = set()
        self.messages: dict[tuple[int, int], telegram.Message] = {}
        self._last_message_id: Counter[int] = Counter()
        self.pending: deque[dict[str, Any]] = deque()
        self.webhook_url = ""
        self.webhook_secret: str | None = None
        self.webhook_max_connections = 40
        self.webhook_allowed_updates: list[str] | None = None
        self.allowed_updates: list[str] | None = None  # the bot's latest choice (None: default)
        self.dropped_updates: list[dict[str, Any]] = []  # of types the bot did not ask for
        self.webhook_deliveries: list[WebhookDelivery] = []
        self.webhook_last_error: tuple[dt.datetime, str] | None = None
        self.open_callbacks: set[str] = set()
        self.answered_callbacks: list[AnsweredCallback] = []
        self.commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self.calls: Counter[str] = Counter()
        self.count_429 = 0

    # ---- state shared with user actions -------------------------------------------------

    def store_message(self, chat: telegram.Chat, sender: telegram.User | None,
                      **fields: Any) -> telegram.Message:
        self._last_message_id[chat.id] += 1
        message = telegram.Message(self._last_message_id[chat.id], now(), chat,
                                   from_user=sender, **fields)
        self.messages[(chat.id, message.message_id)] = message
        return message

    def wanted(self, update: dict[str, Any]) -> bool:
        """Whether the bot asked for this update's type (setWebhook or getUpdates
        `allowed_updates`, kept until changed; unset or empty: all but the types Telegram
        only sends on request)."""
        kind = next((key for key in update if key != "update_id"), None)
        if not self.allowed_updates:
            return kind not in ON_REQUEST_ONLY
        return kind in self.allowed_updates

    def choose_updates(self, params: dict[str, Any]) -> None:
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self.allowed_updates = [str(kind) for kind in allowed]

    def queue_update(self, update: dict[str, Any]) -> None:
        self.pending.append(update)
        self.wake_pollers()

    def wake_pollers(self) -> None:
        self._updates_changed.set()
        self._updates_changed = asyncio.Event()

    def on_webhook_set(self) -> None:
        """Hook for the HTTP layer: deliver what is pending to the new webhook."""

    # ---- checks -------------------------------------------------------------------------

    def _target_chat(self, params: dict[str, Any]) -> telegram.Chat:
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise bad_request("chat_id is empty")
        try:
            chat_id: int | None = int(raw)
        except (TypeError, ValueError):
            chat_id = None  # "@channelname" style ids are not modelled
        chat = self.chats.get(chat_id) if chat_id is not None else None
        if chat is None and chat_id in self.users:  # seen in a group, never opened the bot
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        if chat is None:
            raise bad_request("chat not found")
        if chat.id in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    def _bot_message(self, chat: telegram.Chat, params: dict[str, Any]) -> telegram.Message:
        if params.get("inline_message_id"):
            raise bad_request("inline messages are not supported by the emulator")
        message = self.messages.get((chat.id, int_param(params, "message_id")))
        if message is None or message.from_user != self.bot_user:
            raise bad_request("message to edit not found")
        return message

    def _accept(self, method: str, chat: telegram.Chat, params: dict[str, Any],
                message: telegram.Message) -> dict[str, Any]:
        markup = params.get("reply_markup")
        self.log.add(SentRecord(method, chat.id, message.text or message.caption,
                                markup if isinstance(markup, dict) else None,
                                message.message_id, time.monotonic(), params))
        return message.to_dict()

    # ---- methods ------------------------------------------------------------------------

    async def get_me(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.bot_user.to_dict()

    async def get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook_url:
            raise ApiError(409, CONFLICT_WEBHOOK)
        self.choose_updates(params)
        self._confirm(int_param(params, "offset", 0))
        limit = min(max(int_param(params, "limit", 100), 1), 100)
        self._poll_generation += 1
        generation = self._poll_generation
        self.wake_pollers()  # an older long poll is answered 409, as on Telegram
        loop = asyncio.get_running_loop()
        deadline = loop.time() + int_param(params, "timeout", 0)
        while not self.pending and not self.closing.is_set() and loop.time() < deadline:
            changed = self._updates_changed
            try:
                await asyncio.wait_for(changed.wait(), deadline - loop.time())
            except TimeoutError:
                break
            if generation != self._poll_generation:
                raise ApiError(409, CONFLICT_POLLER)
            if self.webhook_url:
                raise ApiError(409, CONFLICT_WEBHOOK)
        return list(islice(self.pending, limit))

    def _confirm(self, offset: int) -> None:
        if offset <= 0:
            return
        while self.pending and _update_id(self.pending[0]) < offset:
            self.pending.popleft()
        if any(_update_id(update) < offset for update in self.pending):  # out-of-order raw pushes
            self.pending = deque(u for u in self.pending if _update_id(u) >= offset)

    async def send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._target_chat(params)
        text = checked_text(params, "text", 4096, required=True)
        markup = inline_markup(params.get("reply_markup"))
        self.limiter.admit(chat.id, time.monotonic())
        message = self.store_message(chat, self.bot_sender, text=text, reply_markup=markup)
        return self._accept("sendMessage", chat, params, message)

    async def send_photo(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._target_chat(params)
        if not params.get("photo"):
            raise bad_request("there is no photo in the request")
        caption = checked_text(params, "caption", 1024, required=False)
        markup = inline_markup(params.get("reply_markup"))
        self.limiter.admit(chat.id, time.monotonic())
        seed = f"{chat.id}-{self._last_message_id[chat.id] + 1}"
        message = self.store_message(chat, self.bot_sender, photo=photo_sizes(seed),
                                     caption=caption, reply_markup=markup)
        return self._accept("sendPhoto", chat, params, message)

    async def send_document(self, params: dict[str, Any]) -> dict[str, Any]:
        """A multipart upload (a file_id string is accepted too); the bytes are kept in the
        record's params as `document_data` so tests can read what was sent."""
        chat = self._target_chat(params)
        upload = params.get("document")
        if not upload:
            raise bad_request("there is no document in the request")
        caption = checked_text(params, "caption", 1024, required=False)
        markup = inline_markup(params.get("reply_markup"))
        self.limiter.admit(chat.id, time.monotonic())
        name, data = _uploaded(params, upload)
        seed = f"{chat.id}-{self._last_message_id[chat.id] + 1}"
        document = telegram.Document(f"document-{seed}", f"uniq-document-{seed}",
                                     file_name=name, file_size=len(data))
        message = self.store_message(chat, self.bot_sender, document=document, caption=caption,
                                     reply_markup=markup)
        return self._accept("sendDocument", chat, {**params, "document_data": data}, message)

    async def send_chat_action(self, params: dict[str, Any]) -> bool:
        self._target_chat(params)
        if not params.get("action"):
            raise bad_request("action is empty")
        return True

    async def edit_message_text(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._target_chat(params)
        old = self._bot_message(chat, params)
        text = checked_text(params, "text", 4096, required=True)
        # Without reply_markup Telegram drops the inline keyboard.
        return self._replace(chat, old, params, "editMessageText", text,
                             inline_markup(params.get("reply_markup")))

    async def edit_message_reply_markup(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._target_chat(params)
        old = self._bot_message(chat, params)
        return self._replace(chat, old, params, "editMessageReplyMarkup", old.text,
                             inline_markup(params.get("reply_markup")))

    def _replace(self, chat: telegram.Chat, old: telegram.Message, params: dict[str, Any],
                 method: str, text: str | None,
                 markup: telegram.InlineKeyboardMarkup | None) -> dict[str, Any]:
        if text == old.text and markup == old.reply_markup:
            raise bad_request(NOT_MODIFIED)
        self.limiter.admit(chat.id, time.monotonic())
        new = telegram.Message(old.message_id, old.date, chat, from_user=self.bot_sender,
                               text=text, photo=old.photo, caption=old.caption,
                               reply_markup=markup, edit_date=now())
        self.messages[(chat.id, old.message_id)] = new
        return self._accept(method, chat, params, new)

    async def answer_callback_query(self, params: dict[str, Any]) -> bool:
        query_id = str(params.get("callback_query_id", ""))
        if query_id not in self.open_callbacks:
            raise bad_request("query is too old and response timeout expired or query ID is "
                              "invalid")
        self.open_callbacks.discard(query_id)
        self.answered_callbacks.append(AnsweredCallback(
            query_id, params.get("text"), bool_param(params, "show_alert"), params.get("url")))
        return True


def _update_id(update: dict[str, Any]) -> int:
    value = update.get("update_id")
    return value if isinstance(value, int) else 0  # malformed raw pushes go on any confirm


def _uploaded(params: dict[str, Any], upload: Any) -> tuple[str | None, bytes]:
    """(file name, bytes) of an upload: a multipart file field, given directly or referenced
    as "attach://<field>" (how aiogram sends files); any other string is a file_id."""
    if isinstance(upload, str) and upload.startswith("attach://"):
        upload = params.get(upload.removeprefix("attach://"))
        if upload is None or isinstance(upload, str):
            raise bad_request("wrong file identifier/HTTP URL specified")
    if isinstance(upload, str):
        return None, b""
    return upload.filename, upload.file.read()
