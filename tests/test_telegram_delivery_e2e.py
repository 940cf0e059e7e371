"""Telegram end to end, webhook mode with the default pacing (25/s, 1/s per chat): the
webhook secret, deep links, command menus, and the outbound path under floods and faults."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import aiohttp
import pytest
from sqlalchemy import select, update

from bot.channels.telegram_menus import STUDENT_MENU
from bot.messages import Choice, Reply
from storage.outbox import add_replies
from storage.people import link_identity
from storage.tables import Delivery, Identity, MessageLog, Person
from tests.emulators.telegram_state import RateLimiter
from tests.postgres_server import database_for, on_both_databases
from tests.telegram_world import ADMIN_ID, API_TOKEN, WEBHOOK_SECRET, World, telegram_world

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", params=["sqlite"])
async def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    """SQLite; PostgreSQL too for the delivery outcomes marked `on_both_databases()`."""
    path: Path = tmp_path_factory.mktemp("delivery")
    async with telegram_world(database_for(request, path, "tg"), "webhook") as w:
        yield w


def db(world: World, work: Any) -> Any:
    return world.runtime.db.run_sync(work)


def chats(world: World, count: int) -> list[int]:
    ids = [world.new_user_id() for _ in range(count)]
    for chat_id in ids:
        world.emu.register_chat(chat_id)
    return ids


def queue(world: World, address: int, *texts: str, person_id: int | None = None) -> None:
    # Direct messages (kind "reply"): quiet hours do not apply, so the test holds at any hour.
    db(world, lambda s: add_replies(s, person_id=person_id, channel="telegram",
                                    address=str(address), replies=[Reply(t) for t in texts],
                                    now=world.runtime.clock.now(), kind="reply"))


def statuses(world: World, address: int) -> list[tuple[str, str | None]]:
    rows = db(world, lambda s: list(s.execute(select(Delivery).where(
        Delivery.address == str(address)).order_by(Delivery.id)).scalars()))
    return [(r.status, r.error) for r in rows]


async def test_wrong_or_missing_webhook_secret_is_401_and_nothing_happens(world: World) -> None:
    [uid] = chats(world, 1)
    update_id = world.emu.last_update_id + 50
    message = {"update_id": update_id, "message": {
        "message_id": 1, "date": 1_790_000_000, "text": "/help",
        "chat": {"id": uid, "type": "private", "first_name": "X"},
        "from": {"id": uid, "is_bot": False, "first_name": "X"}}}
    for secret in ("wrong", None, WEBHOOK_SECRET + "x", ""):
        assert await world.emu.post_to_webhook(message, secret=secret) == 401
    assert await world.settle(uid) == []
    logged = db(world, lambda s: s.execute(
        select(MessageLog).where(MessageLog.external_id == f"tg:{update_id}")).first())
    assert logged is None


async def test_deep_link_from_the_api_ties_the_chat_to_the_student(world: World) -> None:
    now = world.runtime.clock.now()
    db(world, lambda s: s.add(Person(display_name="Linked", lms_id="edx-42", created_at=now)))
    url = world.base_url + "/api/v1/telegram/links"
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json={"lms_id": "edx-42"}) as denied:
            assert denied.status == 401
        headers = {"Authorization": f"Bearer {API_TOKEN}"}
        async with http.post(url, json={"lms_id": "edx-42"}, headers=headers) as made:
            assert made.status == 200
            link = await made.json()
    parsed = urlparse(link["url"])
    assert parsed.netloc == "t.me" and parsed.path == f"/{world.emu.bot_user.username}"
    [uid] = chats(world, 1)
    await world.emu.user_sends_command(uid, "start", parse_qs(parsed.query)["start"][0])
    await world.replies(uid, 1)
    owner = db(world, lambda s: s.execute(select(Person.lms_id).join(
        Identity, Identity.person_id == Person.id).where(Identity.address == str(uid))).scalar())
    assert owner == "edx-42"


def menu(world: World, scope: dict[str, Any], language: str = "") -> list[str]:
    key = json.dumps(scope, sort_keys=True, separators=(",", ":"))
    return [c["command"] for c in world.emu.commands.get((key, language), [])]


async def test_command_menus_by_role_and_language(world: World) -> None:
    student = [name for name, _about in STUDENT_MENU]  # every entry works: tests/test_admin.py
    assert student[0] == "start" and {"settings", "help", "mentor", "goals"} <= set(student)
    async with asyncio.timeout(5):  # synced in the background at start-up
        while menu(world, {"type": "chat", "chat_id": ADMIN_ID}) == []:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    for language in ("", "en", "es", "hi", "ru"):
        assert menu(world, {"type": "all_private_chats"}, language) == student
        assert menu(world, {"type": "default"}, language) == student
    key = json.dumps({"type": "all_private_chats"}, sort_keys=True, separators=(",", ":"))
    spanish = world.emu.commands[(key, "es")]
    assert spanish[0]["description"] == "Empezar de nuevo"
    assert "queue" in menu(world, {"type": "chat", "chat_id": ADMIN_ID})


async def test_menu_follows_a_role_change(world: World) -> None:
    [uid] = chats(world, 1)
    now = world.runtime.clock.now()

    def create(s: Any) -> int:
        person = Person(display_name="Mo", locale="ru", created_at=now)
        s.add(person)
        s.flush()
        link_identity(s, person.id, "telegram", str(uid), now)
        return int(person.id)

    person_id = db(world, create)
    menus = world.runtime.extras["telegram_menus"]
    db(world, lambda s: s.execute(update(Person).where(Person.id == person_id).values(
        role="mentor")))
    await menus.refresh_for(person_id)
    key = json.dumps({"type": "chat", "chat_id": uid}, sort_keys=True, separators=(",", ":"))
    assert world.emu.commands[(key, "")][0] == {"command": "queue",
                                                "description": "Запросы, ждущие ментора"}
    db(world, lambda s: s.execute(update(Person).where(Person.id == person_id).values(
        role="student")))
    await menus.refresh_for(person_id)
    assert (key, "") not in world.emu.commands


async def test_a_role_changed_elsewhere_reaches_the_menu_within_a_tick(world: World) -> None:
    [uid] = chats(world, 1)
    now = world.runtime.clock.now()
    menus = world.runtime.extras["telegram_menus"]
    await menus.sync_all()
    assert await menus.sync_changes() == 0  # nothing changed since the last sync

    def create(s: Any) -> int:
        person = Person(display_name="Lu", role="mentor", locale="es", created_at=now)
        s.add(person)
        s.flush()
        link_identity(s, person.id, "telegram", str(uid), now)
        return int(person.id)

    person_id = db(world, create)  # e.g. a CSV import in another process made a mentor
    assert await menus.sync_changes() == 1
    key = json.dumps({"type": "chat", "chat_id": uid}, sort_keys=True, separators=(",", ":"))
    assert world.emu.commands[(key, "")][0]["command"] == "queue"
    db(world, lambda s: s.execute(update(Person).where(Person.id == person_id).values(
        role="student")))
    assert await menus.sync_changes() == 1
    assert (key, "") not in world.emu.commands
    assert "telegram-menus" in {job_id for job_id, _s, _t in world.runtime.ticker.jobs()}


@on_both_databases()
async def test_429_storm_loses_nothing_and_sends_nothing_twice(world: World) -> None:
    """The emulator allows 8/s overall while the bot paces at 25/s: 429s, all retried."""
    world.emu.limiter = RateLimiter(8, 1, True)
    targets = chats(world, 16)
    for chat_id in targets:
        queue(world, chat_id, f"news for {chat_id}")
    queue(world, targets[0], "second", "third")
    before = world.emu.count_429
    await world.runtime.dispatcher.drain(limit=100)
    assert world.emu.count_429 > before
    for chat_id in targets:
        texts = [r.text for r in world.emu.messages_to(chat_id)]
        expected = [f"news for {chat_id}"] + (["second", "third"] if chat_id == targets[0] else [])
        assert texts == expected
        assert all(status == "sent" for status, _ in statuses(world, chat_id))
    assert world.emu.max_rate_seen().overall <= 8 and world.emu.max_rate_seen().per_chat == 1


async def test_within_the_limit_there_are_no_429s(world: World) -> None:
    world.emu.limiter = RateLimiter(30, 1, True)
    targets = chats(world, 40)
    for chat_id in targets:
        queue(world, chat_id, "hello")
    before = world.emu.count_429
    await world.runtime.dispatcher.drain(limit=100)
    assert world.emu.count_429 == before
    assert all(len(world.emu.messages_to(c)) == 1 for c in targets)


@on_both_databases()
async def test_blocked_user_is_marked_unreachable_without_retries(world: World) -> None:
    [uid] = chats(world, 1)
    await world.emu.user_sends_text(uid, "hi")
    await world.settle(uid)  # every answer to "hi" is out before the block
    world.emu.block_user(uid)
    calls = world.emu.calls["sendMessage"]
    queue(world, uid, "a nudge")
    await world.runtime.dispatcher.drain()
    assert world.emu.calls["sendMessage"] == calls + 1
    assert statuses(world, uid)[-1] == ("failed", "Forbidden: bot was blocked by the user")
    reachable = db(world, lambda s: s.execute(
        select(Identity.reachable).where(Identity.address == str(uid))).scalar())
    assert reachable is False
    assert await world.runtime.dispatcher.drain() == 0
    # They unblock the bot and write again: the chat is reachable again, and gets answers.
    world.emu.unblock_user(uid)
    before = len(world.emu.messages_to(uid))
    await world.emu.user_sends_text(uid, "hi again")
    await world.emu.wait_for(lambda _r: len(world.emu.messages_to(uid)) > before, 5)
    reachable = db(world, lambda s: s.execute(
        select(Identity.reachable).where(Identity.address == str(uid))).scalar())
    assert reachable is True


async def test_long_texts_are_split_with_the_keyboard_on_the_last_part(world: World) -> None:
    [uid] = chats(world, 1)
    lines = [f"line {i:04d} " + "word " * 20 for i in range(100)]
    text = "\n".join(lines)
    db(world, lambda s: add_replies(
        s, person_id=None, channel="telegram", address=str(uid),
        replies=[Reply(text, (Choice("ok", "OK"),))], now=world.runtime.clock.now()))
    await world.runtime.dispatcher.drain()
    parts = world.emu.messages_to(uid)
    assert len(parts) == 3 and all(len(p.text or "") <= 4096 for p in parts)
    assert [p.reply_markup for p in parts[:-1]] == [None] * 2
    button = {"text": "OK", "callback_data": "c:ok"}
    assert parts[-1].reply_markup == {"inline_keyboard": [[button]]}
    assert [line.strip() for p in parts for line in (p.text or "").split("\n")] == [
        line.strip() for line in lines]
    assert statuses(world, uid) == [("sent", None)]


@on_both_databases()
async def test_a_timeout_after_sending_is_not_blindly_resent(world: World) -> None:
    [uid] = chats(world, 1)
    world.emu.inject("sendMessage", "timeout", hold=5, chat_id=uid)  # no other chat's send
    queue(world, uid, "maybe delivered")
    await world.runtime.dispatcher.drain()
    async with asyncio.timeout(15):  # the background tick may have taken the row instead
        while statuses(world, uid)[-1][0] in ("pending", "claimed", "sending"):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    assert [r.text for r in world.emu.messages_to(uid)] == ["maybe delivered"]
    status, error = statuses(world, uid)[-1]
    assert status == "failed" and error and error.startswith("unknown outcome")
