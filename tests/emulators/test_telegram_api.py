"""The Telegram emulator driven by aiogram's real HTTP client (an independent implementation)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
)
from aiohttp import web

from tests.emulators.telegram_api import SECRET_HEADER, TelegramEmulator

KEYBOARD = InlineKeyboardMarkup(inline_keyboard=[[
    InlineKeyboardButton(text="Yes", callback_data="answer:yes"),
    InlineKeyboardButton(text="No", callback_data="answer:no"),
]])


def make_bot(emu: TelegramEmulator, token: str | None = None, timeout: float = 10) -> Bot:
    api = TelegramAPIServer.from_base(emu.base_url)
    return Bot(token or emu.token, session=AiohttpSession(api=api, timeout=timeout))


@pytest_asyncio.fixture(scope="module")
async def emu() -> AsyncIterator[TelegramEmulator]:
    async with TelegramEmulator() as emulator:
        yield emulator


@pytest_asyncio.fixture(scope="module")
async def module_bot(emu: TelegramEmulator) -> AsyncIterator[Bot]:
    bot = make_bot(emu)
    yield bot
    await bot.session.close()


@pytest.fixture
def bot(emu: TelegramEmulator, module_bot: Bot) -> Bot:
    emu.reset()  # one server and one client per module; a clean state per test
    return module_bot


async def test_get_me_answers_a_complete_bot_user(bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.is_bot, me.username) == (123456, True, "mentorbot_test_bot")
    assert me.can_join_groups is True


async def test_unknown_method_and_wrong_token_answer_like_telegram(
        emu: TelegramEmulator, bot: Bot) -> None:
    url = f"{emu.base_url}/bot{emu.token}/sendTelepathy"
    async with aiohttp.ClientSession() as http, http.post(url) as resp:
        assert resp.status == 404
        assert await resp.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
    stranger = make_bot(emu, token="999:WRONG")
    with pytest.raises(TelegramUnauthorizedError, match="Unauthorized"):
        await stranger.get_me()
    await stranger.session.close()


async def test_send_message_with_inline_keyboard(emu: TelegramEmulator, bot: Bot) -> None:
    await emu.user_sends_command(501, "start")
    sent = await bot.send_message(501, "Pick one", reply_markup=KEYBOARD)
    assert sent.chat.id == 501 and sent.chat.type == "private"
    assert sent.from_user is not None and sent.from_user.id == bot.id
    assert sent.reply_markup is not None
    assert sent.reply_markup.model_dump() == KEYBOARD.model_dump()
    assert sent.message_id == 2  # the user's /start was message 1 in this chat
    record = emu.messages_to(501)[-1]
    assert (record.method, record.text, record.message_id) == ("sendMessage", "Pick one", 2)
    assert record.reply_markup == KEYBOARD.model_dump(exclude_none=True)
    assert emu.calls["sendMessage"] == 1


async def test_send_photo_upload_is_multipart(emu: TelegramEmulator, bot: Bot) -> None:
    emu.register_chat(514)
    photo = BufferedInputFile(b"\x89PNG not really", filename="chart.png")
    sent = await bot.send_photo(514, photo, caption="Your week", reply_markup=KEYBOARD)
    assert sent.photo and sent.caption == "Your week"
    record = emu.messages_to(514)[-1]
    assert (record.method, record.text) == ("sendPhoto", "Your week")
    assert record.reply_markup is not None


async def test_send_message_errors_match_telegram(emu: TelegramEmulator, bot: Bot) -> None:
    await emu.user_sends_text(502, "hi")
    with pytest.raises(TelegramBadRequest, match="Bad Request: chat not found"):
        await bot.send_message(9_999, "hello?")
    with pytest.raises(TelegramBadRequest, match="Bad Request: message text is empty"):
        await bot.send_message(502, "   ")
    with pytest.raises(TelegramBadRequest, match="Bad Request: message is too long"):
        await bot.send_message(502, "x" * 4097)
    assert emu.sent == []


async def test_get_updates_long_polls_and_offset_confirms(
        emu: TelegramEmulator, bot: Bot) -> None:
    await emu.user_sends_text(503, "one")
    await emu.user_sends_text(503, "two")
    first = await bot.get_updates(timeout=0)
    assert [u.message.text for u in first if u.message] == ["one", "two"]
    poll = asyncio.create_task(bot.get_updates(offset=first[-1].update_id + 1, timeout=5))
    await asyncio.sleep(0)  # let the poll start; the result is the same either way
    await emu.user_sends_text(503, "three")
    later = await poll
    assert [u.message.text for u in later if u.message] == ["three"]
    assert await bot.get_updates(offset=later[-1].update_id + 1, timeout=0) == []
    assert emu.pending_updates() == []


async def test_updates_built_with_ptb_types_parse_in_aiogram(
        emu: TelegramEmulator, bot: Bot) -> None:
    sent = await emu.user_sends_text(504, "hello")
    await emu.user_sends_sticker(504)
    await emu.user_sends_photo(504, caption="homework")
    await emu.user_sends_voice(504, duration=4)
    await emu.user_edits_message(504, sent["message"]["message_id"], "hello!")
    await emu.group_message(-100, 504, "/help")
    await emu.channel_post(-1_000_000_000_001, "news")
    updates = await bot.get_updates(timeout=0)
    assert updates[1].message and updates[1].message.sticker
    assert updates[2].message and updates[2].message.photo
    assert updates[2].message.caption == "homework"
    assert updates[3].message and updates[3].message.voice
    assert updates[3].message.voice.duration == 4
    assert updates[4].edited_message and updates[4].edited_message.text == "hello!"
    group = updates[5].message
    assert group and group.chat.type == "group" and group.entities
    assert group.entities[0].type == "bot_command"
    assert updates[6].channel_post and updates[6].channel_post.chat.type == "channel"


async def test_contact_share_own_and_someone_elses(emu: TelegramEmulator, bot: Bot) -> None:
    await emu.user_shares_contact(505, "+15551230001")
    await emu.user_shares_contact(505, "+15551230002", own=False)
    own, other = [u.message for u in await bot.get_updates(timeout=0)]
    assert own and own.contact and own.from_user
    assert own.contact.user_id == own.from_user.id
    assert own.contact.phone_number == "+15551230001"
    assert other and other.contact and other.from_user
    assert other.contact.user_id != other.from_user.id


async def test_button_press_and_answer_callback_query(emu: TelegramEmulator, bot: Bot) -> None:
    await emu.user_sends_command(506, "start")
    sent = await bot.send_message(506, "Ready?", reply_markup=KEYBOARD)
    query_id = await emu.user_presses_button(506, sent.message_id, "answer:yes")
    (update,) = (await bot.get_updates(timeout=0))[1:]
    query = update.callback_query
    assert query and query.id == query_id and query.data == "answer:yes"
    assert query.message and query.message.message_id == sent.message_id
    assert await bot.answer_callback_query(query_id, text="Noted") is True
    assert emu.answered_callbacks[-1].text == "Noted"
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(query_id)
    with pytest.raises(ValueError, match="no button"):
        await emu.user_presses_button(506, sent.message_id, "answer:maybe")


async def test_per_chat_rate_limit_raises_retry_after(emu: TelegramEmulator, bot: Bot) -> None:
    await emu.user_sends_text(507, "hi")
    await bot.send_message(507, "first")
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(507, "second, too soon")
    assert caught.value.retry_after == 1
    assert "Too Many Requests: retry after 1" in caught.value.message
    assert emu.count_429 == 1
    assert emu.max_rate_seen().per_chat == 1
    assert [r.text for r in emu.messages_to(507)] == ["first"]


async def test_injected_faults_surface_as_aiogram_errors(emu: TelegramEmulator, bot: Bot) -> None:
    await emu.user_sends_text(508, "hi")
    emu.inject("sendMessage", "retry_after", retry_after=7)
    emu.inject("sendMessage", "server_error", status=502)
    emu.inject("sendMessage", "bad_request", description="Bad Request: message is not modified")
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(508, "a")
    assert caught.value.retry_after == 7
    with pytest.raises(TelegramServerError, match="Bad Gateway"):
        await bot.send_message(508, "b")
    with pytest.raises(TelegramBadRequest, match="not modified"):
        await bot.send_message(508, "c")
    await bot.send_message(508, "d")
    assert [r.text for r in emu.sent] == ["d"] and emu.count_429 == 1


async def test_timeout_fault_records_the_send_but_loses_the_answer(
        emu: TelegramEmulator, bot: Bot) -> None:
    await emu.user_sends_text(509, "hi")
    emu.inject("sendMessage", "timeout", hold=1)
    impatient = make_bot(emu, timeout=0.2)
    with pytest.raises(TelegramNetworkError, match="timeout"):
        await impatient.send_message(509, "did it arrive?")
    await impatient.session.close()
    assert [r.text for r in emu.messages_to(509)] == ["did it arrive?"]


async def test_blocked_user_raises_forbidden(emu: TelegramEmulator, bot: Bot) -> None:
    await emu.user_sends_text(510, "hi")
    emu.block_user(510)
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(510, "are you there?")
    emu.unblock_user(510)
    await bot.send_message(510, "welcome back")


async def test_edit_message_text_and_not_modified(emu: TelegramEmulator, bot: Bot) -> None:
    emu.register_chat(511)
    sent = await bot.send_message(511, "v1", reply_markup=KEYBOARD)
    emu.limiter.enforce = False  # edits count against the 1/s chat limit; reset() restores it
    edited = await bot.edit_message_text("v2", chat_id=511, message_id=sent.message_id)
    assert not isinstance(edited, bool) and edited.text == "v2" and edited.edit_date
    assert edited.reply_markup is None  # Telegram drops the keyboard when none is resent
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text("v2", chat_id=511, message_id=sent.message_id)


class WebhookReceiver:
    """A tiny webhook endpoint that checks the secret header like our route must."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.received: list[dict[str, Any]] = []
        self.headers: list[str | None] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.headers.append(request.headers.get(SECRET_HEADER))
        if request.headers.get(SECRET_HEADER) != self.secret:
            return web.Response(status=403)
        self.received.append(await request.json())
        return web.Response(status=200)


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[tuple[WebhookReceiver, str]]:
    target = WebhookReceiver("s3cret_token-1")
    app = web.Application()
    app.router.add_post("/telegram/webhook", target.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    yield target, f"http://127.0.0.1:{port}/telegram/webhook"
    await runner.cleanup()


async def test_webhook_receives_updates_with_secret_and_blocks_polling(
        emu: TelegramEmulator, bot: Bot, receiver: tuple[WebhookReceiver, str]) -> None:
    target, url = receiver
    assert await bot.set_webhook(url, secret_token=target.secret) is True
    update = await emu.user_sends_text(512, "via webhook")
    assert target.received == [update] and target.headers == [target.secret]
    assert await emu.push_raw_update(update) == update  # a duplicate delivery, same update_id
    assert target.received == [update, update]
    assert emu.webhook_statuses == [200, 200]
    with pytest.raises(TelegramConflictError, match="webhook is active"):
        await bot.get_updates(timeout=0)
    assert await emu.post_to_webhook(update, secret="wrong") == 403
    assert await emu.post_to_webhook(update, secret=None) == 403
    info = await bot.get_webhook_info()
    assert info.url == url and info.pending_update_count == 0
    assert await bot.delete_webhook() is True
    assert await bot.get_updates(timeout=0) == []


async def test_set_my_commands_with_chat_scope_and_language(
        emu: TelegramEmulator, bot: Bot) -> None:
    emu.register_chat(513)
    commands = [BotCommand(command="broadcast", description="Send to a cohort")]
    scope = BotCommandScopeChat(chat_id=513)
    assert await bot.set_my_commands(commands, scope=scope, language_code="es") is True
    key = ('{"chat_id":513,"type":"chat"}', "es")
    assert emu.commands[key] == [{"command": "broadcast", "description": "Send to a cohort"}]
    listed = await bot.get_my_commands(scope=scope, language_code="es")
    assert [(c.command, c.description) for c in listed] == [("broadcast", "Send to a cohort")]
    assert await bot.get_my_commands(scope=scope) == []
    assert await bot.delete_my_commands(scope=scope, language_code="es") is True
    assert emu.commands == {}


async def test_global_window_and_wait_for() -> None:
    async with TelegramEmulator(global_rate=3, per_chat_rate=10) as emu, \
            aiohttp.ClientSession() as http:
        for chat_id in range(1, 5):
            emu.register_chat(chat_id)
        url = f"{emu.base_url}/bot{emu.token}/sendMessage"

        async def send(chat_id: int) -> int:
            async with http.post(url, data={"chat_id": chat_id, "text": "news"}) as resp:
                return resp.status

        waiter = asyncio.create_task(emu.wait_for(lambda r: r.chat_id == 2))
        statuses = await asyncio.gather(*(send(chat_id) for chat_id in range(1, 5)))
        assert sorted(statuses) == [200, 200, 200, 429]
        assert [r.chat_id for r in await waiter] == [2]
        assert len(await emu.wait_for(3, timeout=1)) == 3
        assert emu.max_rate_seen() == (3, 1) and emu.count_429 == 1


async def test_block_and_unblock_arrive_as_my_chat_member(emu: TelegramEmulator, bot: Bot) -> None:
    emu.register_chat(520)
    await emu.user_blocks_bot(520)
    with pytest.raises(TelegramForbiddenError):
        await bot.send_message(520, "hi")
    await emu.user_unblocks_bot(520)
    await bot.send_message(520, "welcome back")
    blocked, unblocked = [u.my_chat_member for u in await bot.get_updates(timeout=0)]
    assert blocked and unblocked and blocked.chat.type == "private" and blocked.from_user.id == 520
    assert (blocked.old_chat_member.status, blocked.new_chat_member.status) == ("member", "kicked")
    assert (unblocked.old_chat_member.status, unblocked.new_chat_member.status) == (
        "kicked", "member")
    assert blocked.new_chat_member.user.id == emu.bot_user.id


async def test_updates_of_types_the_bot_did_not_ask_for_are_dropped(
        emu: TelegramEmulator, bot: Bot) -> None:
    assert await bot.get_updates(timeout=0, allowed_updates=["message"]) == []
    await emu.user_blocks_bot(521)
    await emu.user_sends_text(521, "hi")
    [update] = await bot.get_updates(timeout=0)  # the choice is kept until changed
    assert update.message and update.message.text == "hi"
    assert [u["my_chat_member"]["chat"]["id"] for u in emu.dropped_updates] == [521]
