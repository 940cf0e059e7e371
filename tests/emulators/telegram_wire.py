"""Bot API wire format for the Telegram emulator: request parameters, answers, and objects.

Objects are built with python-telegram-bot's types and serialised with `.to_dict()`, so the
emulator is an implementation independent of aiogram (the client under test).
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import telegram
from aiohttp import web

# Parameters that clients send as JSON strings inside form bodies.
_JSON_PARAMS = frozenset(
    {"reply_markup", "commands", "scope", "allowed_updates", "entities", "caption_entities",
     "link_preview_options", "reply_parameters"}
)
_TAG = re.compile(r"<[^>]+>")
SUPERGROUP_ID_LIMIT = -1_000_000_000_000


class ApiError(Exception):
    """An error answer, exactly as Telegram shapes it."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error_code": self.code,
                                "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(detail: str) -> ApiError:
    return ApiError(400, f"Bad Request: {detail}")


def json_answer(body: Mapping[str, Any], status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(body), status=status, content_type="application/json")


def ok_answer(result: Any, description: str | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": True, "result": result}
    if description:
        body["description"] = description
    return json_answer(body)


def error_answer(error: ApiError) -> web.Response:
    return json_answer(error.body(), status=error.code)


async def read_params(request: web.Request) -> dict[str, Any]:
    """Merge query string and body (JSON, urlencoded or multipart); decode nested JSON params."""
    params: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        raw = await request.read()
        try:
            params.update(json.loads(raw) if raw else {})
        except (ValueError, TypeError):
            raise bad_request("can't parse JSON body") from None
    elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        params.update((await request.post()).items())
    for name in _JSON_PARAMS.intersection(params):
        if isinstance(params[name], str):
            params[name] = _decode_json_param(name, params[name])
    return params


def _decode_json_param(name: str, raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        if name == "reply_markup":
            raise bad_request("can't parse reply keyboard markup JSON object") from None
        raise bad_request(f"can't parse {name} JSON object") from None


def int_param(params: Mapping[str, Any], name: str, default: int | None = None) -> int:
    value = params.get(name)
    if value is None or value == "":
        if default is None:
            raise bad_request(f"{name} is empty")
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise bad_request(f"invalid {name} specified") from None


def bool_param(params: Mapping[str, Any], name: str) -> bool:
    return str(params.get(name, "")).lower() in ("true", "1")


def visible_text(text: str, parse_mode: str | None) -> str:
    """Text as the user sees it: Telegram checks emptiness and length after parsing HTML."""
    if (parse_mode or "").lower() != "html":
        return text
    return html.unescape(_TAG.sub("", text))


def checked_text(params: dict[str, Any], name: str, limit: int, required: bool) -> str | None:
    """The text param after Telegram's empty and length checks."""
    text = params.get(name)
    if text is None and not required:
        return None
    shown = visible_text(str(text or ""), params.get("parse_mode")).strip()
    if required and not shown:
        raise bad_request("message text is empty")
    if len(shown) > limit:
        raise bad_request("message is too long" if name == "text"
                          else "message caption is too long")
    return str(text)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def make_bot_user(token: str) -> telegram.User:
    return telegram.User(
        id=int(token.split(":", 1)[0]), first_name="Mentor Test Bot", is_bot=True,
        username="mentorbot_test_bot", can_join_groups=True, can_read_all_group_messages=False,
        supports_inline_queries=False, can_connect_to_business=False, has_main_web_app=False,
    )


def message_sender(bot: telegram.User) -> telegram.User:
    """The bot as `from` of its messages: getMe-only fields are absent there on Telegram."""
    return telegram.User(id=bot.id, first_name=bot.first_name, is_bot=True, username=bot.username)


def make_user(user_id: int, first_name: str, language_code: str | None) -> telegram.User:
    return telegram.User(
        id=user_id, first_name=first_name, is_bot=False, language_code=language_code,
        username=f"user{user_id}",
    )


def private_chat(user: telegram.User) -> telegram.Chat:
    return telegram.Chat(id=user.id, type="private", first_name=user.first_name,
                         username=user.username)


def group_chat(chat_id: int, title: str) -> telegram.Chat:
    kind = "supergroup" if chat_id <= SUPERGROUP_ID_LIMIT else "group"
    return telegram.Chat(id=chat_id, type=kind, title=title)


def channel_chat(chat_id: int, title: str) -> telegram.Chat:
    return telegram.Chat(id=chat_id, type="channel", title=title)


def inline_markup(markup: Any) -> telegram.InlineKeyboardMarkup | None:
    """Only inline keyboards are echoed in a sent Message; reply keyboards are not."""
    if not isinstance(markup, dict) or "inline_keyboard" not in markup:
        return None
    try:
        return telegram.InlineKeyboardMarkup.de_json(markup, None)
    except (KeyError, TypeError, ValueError):
        raise bad_request("can't parse inline keyboard button") from None


def callback_datas(markup: telegram.InlineKeyboardMarkup | None) -> set[str]:
    if markup is None:
        return set()
    return {b.callback_data for row in markup.inline_keyboard for b in row
            if isinstance(b.callback_data, str)}


def command_entities(text: str) -> list[telegram.MessageEntity]:
    command = text.split(maxsplit=1)[0] if text.startswith("/") else ""
    return [telegram.MessageEntity("bot_command", 0, len(command))] if command else []


def photo_sizes(seed: str) -> Sequence[telegram.PhotoSize]:
    return [telegram.PhotoSize(f"photo-{seed}-{side}", f"uniq-{seed}-{side}", side, side,
                               file_size=side * 40) for side in (90, 800)]


def sticker(seed: str, emoji: str) -> telegram.Sticker:
    return telegram.Sticker(f"sticker-{seed}", f"uniq-sticker-{seed}", 512, 512, False, False,
                            "regular", emoji=emoji)


def voice(seed: str, duration: int) -> telegram.Voice:
    return telegram.Voice(f"voice-{seed}", f"uniq-voice-{seed}", duration, mime_type="audio/ogg",
                          file_size=duration * 2000)
