"""STOP, START, PAUSE and HELP on Telegram and the web chat, end to end over real HTTP; Telegram
block and unblock (`my_chat_member`). The clock is fixed at 10:00 in New York, inside the
window where nudges may go; nudges are queued as the planner would and sent by the dispatcher."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.app import Runtime, build_runtime
from bot.clock import FakeClock
from bot.messages import Reply
from storage.chat_opt_outs import chat_state
from storage.outbox import add_replies
from storage.people import person_by_identity
from storage.tables import Delivery, Identity
from tests.conftest import START, make_settings
from tests.postgres_server import fresh_database
from tests.telegram_world import World, free_port, serving, telegram_world
from tests.transcript import add_student

pytestmark = pytest.mark.e2e
_POLL = 0.02


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:  # noqa: ASYNC109
    """Wait for a database state (Telegram's block and unblock have no reply to wait for)."""
    for _ in range(int(timeout / _POLL)):
        if predicate():
            return
        await asyncio.sleep(_POLL)
    raise TimeoutError(f"condition not met within {timeout} s")


def db(runtime: Runtime, work: Any) -> Any:
    return runtime.db.run_sync(work)


def identity(runtime: Runtime, channel: str, address: str) -> Identity:
    found = db(runtime, lambda s: chat_state(s, channel, address))
    assert found is not None
    return found  # type: ignore[no-any-return]


def queue(runtime: Runtime, channel: str, address: str, text: str, kind: str = "nudge") -> int:
    """A nudge (or another message) due now, for whoever holds the address."""

    def write(session: Any) -> int:
        found = person_by_identity(session, channel, address)
        [out] = add_replies(session, person_id=found.id if found else None, channel=channel,
                            address=address, replies=[Reply(text)], now=runtime.clock.now(),
                            kind=kind)  # fmt: skip
        return out.delivery_id

    return db(runtime, write)  # type: ignore[no-any-return]


async def sent_now(runtime: Runtime, delivery_id: int) -> tuple[str, str | None]:
    """Run the sender once; the delivery's status and reason after it."""
    await runtime.dispatcher.drain()
    row = db(runtime, lambda s: s.get(Delivery, delivery_id))
    return row.status, row.error


# -- Telegram ----------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["polling", "webhook"])
async def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    """SQLite in both modes; "postgres": webhook mode on PostgreSQL (`ALSO_ON_POSTGRES`)."""
    path: Path = tmp_path_factory.mktemp(f"optout-{request.param}") / "tg.sqlite3"
    url, mode = f"sqlite:///{path}", request.param
    if request.param == "postgres":
        url, mode = fresh_database(request.getfixturevalue("postgres_server_url")), "webhook"
    async with telegram_world(url, mode, FakeClock(START), per_chat_per_second=5) as w:
        yield w


# STOP and START also run on PostgreSQL, over the same real HTTP.
ALSO_ON_POSTGRES = pytest.mark.parametrize("world", ["polling", "webhook", "postgres"],
                                           indirect=True)  # fmt: skip


def telegram_student(world: World, name: str) -> int:
    uid = world.new_user_id()
    add_student(world.runtime, name, channel="telegram", address=str(uid))
    return uid


def texts(world: World, uid: int) -> list[str]:
    return [r.text or "" for r in world.emu.messages_to(uid)]


async def says(world: World, uid: int, text: str) -> list[str]:
    """The person writes; what the bot answered to it (all of it: `settle` waits)."""
    before = len(world.emu.messages_to(uid))
    await world.emu.user_sends_text(uid, text)
    return [r.text or "" for r in (await world.settle(uid))[before:]]


@ALSO_ON_POSTGRES
async def test_stop_on_telegram_stops_nudges_there_and_start_resumes_them(world: World) -> None:
    uid = telegram_student(world, "Ana")
    chat, runtime = str(uid), world.runtime
    waiting = queue(runtime, "telegram", chat, "Planned before the STOP.")
    [confirmation] = await says(world, uid, "STOP")
    assert "Reply START" in confirmation
    assert identity(runtime, "telegram", chat).opted_out
    assert (await sent_now(runtime, waiting))[0] == "cancelled"
    due = queue(runtime, "telegram", chat, "Your class starts at 6pm.")
    assert await sent_now(runtime, due) == ("suppressed", "opted_out")
    # The bot still answers what the person writes.
    assert await says(world, uid, "where do I find the recordings?") != []
    [resumed] = await says(world, uid, "START")
    assert "on again" in resumed
    assert not identity(runtime, "telegram", chat).opted_out
    due = queue(runtime, "telegram", chat, "Your class starts at 7pm.")
    assert (await sent_now(runtime, due))[0] == "sent"
    assert texts(world, uid)[-1] == "Your class starts at 7pm."
    assert "Your class starts at 6pm." not in texts(world, uid)


async def test_stop_inside_a_sentence_is_an_ordinary_message(world: World) -> None:
    uid = telegram_student(world, "Ben")
    answers = await says(world, uid, "I can't stop worrying about my test")
    assert answers and not any("Reply START" in text for text in answers)
    assert not identity(world.runtime, "telegram", str(uid)).opted_out


@ALSO_ON_POSTGRES
async def test_pause_on_telegram_then_start_resumes_at_once(world: World) -> None:
    uid = telegram_student(world, "Cleo")
    chat, runtime = str(uid), world.runtime
    [paused] = await says(world, uid, "pause")
    assert "paused for 14 days" in paused
    assert identity(runtime, "telegram", chat).paused_until is not None
    nudge = queue(runtime, "telegram", chat, "A nudge.")
    assert await sent_now(runtime, nudge) == ("suppressed", "paused")
    answer = queue(runtime, "telegram", chat, "A direct answer.", kind="reply")
    assert (await sent_now(runtime, answer))[0] == "sent"
    [resumed] = await says(world, uid, "START")
    assert "on again" in resumed
    assert identity(runtime, "telegram", chat).paused_until is None
    assert (await sent_now(runtime, queue(runtime, "telegram", chat, "Back again.")))[0] == "sent"


async def test_help_says_how_to_stop_and_the_help_command_keeps_its_menu(world: World) -> None:
    uid = telegram_student(world, "Dev")
    [helped] = await says(world, uid, "HELP")
    assert all(word in helped for word in ("STOP", "PAUSE", "START", "/help"))
    [menu] = await says(world, uid, "/help")
    assert menu.startswith("I'm your mentor bot")


@ALSO_ON_POSTGRES
async def test_blocking_the_bot_marks_the_chat_unreachable_until_it_is_unblocked(
    world: World,
) -> None:
    uid = telegram_student(world, "Eli")
    chat, runtime = str(uid), world.runtime
    assert "my_chat_member" in (world.emu.allowed_updates or [])  # the bot asked for them
    await world.emu.user_blocks_bot(uid)
    await until(lambda: not identity(runtime, "telegram", chat).reachable)
    blocked = queue(runtime, "telegram", chat, "While blocked.")
    assert await sent_now(runtime, blocked) == ("suppressed", "unreachable")
    await world.emu.user_unblocks_bot(uid)
    await until(lambda: identity(runtime, "telegram", chat).reachable)
    assert (await sent_now(runtime, queue(runtime, "telegram", chat, "Welcome back.")))[0] == (
        "sent"
    )
    assert texts(world, uid) == ["Welcome back."]
    assert world.emu.dropped_updates == []


# -- web chat ----------------------------------------------------------------------------------


@dataclass
class WebChat:
    runtime: Runtime
    http: aiohttp.ClientSession
    address: str = ""
    _ids: int = 0

    async def open(self) -> None:
        async with self.http.post("/chat/api/sessions", json={}) as answer:
            self.address = (await answer.json())["address"]

    async def says(self, text: str) -> list[str]:
        self._ids += 1
        body = {"address": self.address, "message_id": str(self._ids), "text": text}
        async with self.http.post("/chat/api/messages", json=body) as answer:
            assert answer.status == 200
            return [m["text"] for m in (await answer.json())["messages"]]

    async def inbox(self) -> list[str]:
        async with self.http.get("/chat/api/messages", params={"address": self.address}) as got:
            return [m["text"] for m in (await got.json())["messages"]]


@pytest.fixture
async def web(sqlite_url: str) -> AsyncIterator[WebChat]:
    runtime = build_runtime(make_settings(sqlite_url), clock=FakeClock(START))
    port = free_port()
    async with serving(runtime, port), aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
        chat = WebChat(runtime, http)
        await chat.open()
        yield chat


async def test_stop_and_start_in_the_web_chat(web: WebChat) -> None:
    [confirmation] = await web.says("please stop sending me messages")
    assert "Reply START" in confirmation
    assert identity(web.runtime, "webchat", web.address).opted_out
    nudge = queue(web.runtime, "webchat", web.address, "A study reminder.")
    assert await sent_now(web.runtime, nudge) == ("suppressed", "opted_out")
    assert "A study reminder." not in await web.inbox()
    [resumed] = await web.says("start")
    assert "on again" in resumed
    nudge = queue(web.runtime, "webchat", web.address, "Another study reminder.")
    assert (await sent_now(web.runtime, nudge))[0] == "sent"
    assert (await web.inbox())[-1] == "Another study reminder."


async def test_pause_start_and_help_in_the_web_chat(web: WebChat) -> None:
    [paused] = await web.says("PAUSA")
    assert "14" in paused
    nudge = queue(web.runtime, "webchat", web.address, "Paused reminder.")
    assert await sent_now(web.runtime, nudge) == ("suppressed", "paused")
    [resumed] = await web.says("START")
    assert (
        "on again" in resumed
        and identity(web.runtime, "webchat", web.address).paused_until is None
    )
    [helped] = await web.says("help")
    assert "STOP" in helped and "PAUSE" in helped
