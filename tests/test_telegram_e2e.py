"""Telegram end to end over real HTTP: emulator <-> mentorbot (uvicorn), polling and webhook.

Per-chat pacing is set to 5/s here (emulator and bot alike) to keep conversations quick; the
1/s default and the global limit are exercised in `test_telegram_delivery_e2e.py`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from storage.tables import ConsentRecord, MessageLog, Person
from tests.postgres_server import fresh_database
from tests.telegram_world import World, telegram_world
from tests.transcript import add_student

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", params=["polling", "webhook"])
async def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    """SQLite in both modes; "postgres": webhook mode on PostgreSQL (`ALSO_ON_POSTGRES`)."""
    path: Path = tmp_path_factory.mktemp(request.param) / "tg.sqlite3"
    url, mode = f"sqlite:///{path}", request.param
    if request.param == "postgres":
        url, mode = fresh_database(request.getfixturevalue("postgres_server_url")), "webhook"
    async with telegram_world(url, mode, per_chat_per_second=5) as w:
        yield w


# Consent and duplicates run on PostgreSQL too, over the same real HTTP.
ALSO_ON_POSTGRES = pytest.mark.parametrize("world", ["polling", "webhook", "postgres"],
                                           indirect=True)  # fmt: skip


def student(world: World, name: str = "Ana", locale: str = "en") -> int:
    user_id = world.new_user_id()
    add_student(world.runtime, name, channel="telegram", address=str(user_id), locale=locale)
    return user_id


def db(world: World, work: Any) -> Any:
    return world.runtime.db.run_sync(work)


def buttons(record: Any) -> list[dict[str, Any]]:
    markup = record.reply_markup or {}
    return [b for row in markup.get("inline_keyboard", []) for b in row]


@ALSO_ON_POSTGRES
async def test_consent_with_the_share_phone_button(world: World) -> None:
    uid = student(world, "Ana")
    await world.emu.user_sends_command(uid, "start")
    sent = await world.replies(uid, 2)
    keyboard = sent[-1].reply_markup or {}
    share = keyboard["keyboard"][0][0]
    assert share == {"text": "📱 Share my phone number", "request_contact": True}
    assert keyboard["one_time_keyboard"] is True
    assert "parse_mode" not in sent[-1].params
    await world.emu.user_shares_contact(uid, "+1 415 555 2671")
    sent = await world.replies(uid, 3)
    assert "Do you agree" in (sent[-1].text or "")
    yes = next(b for b in buttons(sent[-1]) if b["callback_data"] == "c:yes")
    query_id = await world.emu.user_presses_button(uid, sent[-1].message_id, yes["callback_data"])
    sent = await world.replies(uid, 4)
    assert "signed up for coaching" in (sent[-1].text or "")
    assert query_id in {a.callback_query_id for a in world.emu.answered_callbacks}
    records = db(world, lambda s: list(s.execute(
        select(ConsentRecord).where(ConsentRecord.phone_e164 == "+14155552671")).scalars()))
    assert [(r.decision, r.channel) for r in records] == [("granted", "telegram")]


@ALSO_ON_POSTGRES
async def test_typed_non_us_number_is_refused_then_us_number_consents(world: World) -> None:
    uid = student(world, "Olga")
    await world.emu.user_sends_text(uid, "hi")
    await world.replies(uid, 2)
    await world.emu.user_sends_text(uid, "+44 7911 123456")
    sent = await world.replies(uid, 3)
    assert "only text US phone numbers" in (sent[-1].text or "")
    await world.emu.user_sends_text(uid, "(212) 555-0199")
    sent = await world.replies(uid, 4)
    assert "Do you agree" in (sent[-1].text or "")
    await world.emu.user_sends_text(uid, "yes")
    sent = await world.replies(uid, 5)
    assert "signed up for coaching" in (sent[-1].text or "")


async def test_spanish_student_gets_a_localized_share_button(world: World) -> None:
    uid = student(world, "Lucía", locale="es")
    await world.emu.user_sends_command(uid, "start", language_code="es")
    sent = await world.replies(uid, 2)
    assert sent[-1].reply_markup["keyboard"][0][0]["text"] == "📱 Compartir mi número de teléfono"


async def test_someone_elses_contact_is_politely_refused(world: World) -> None:
    uid = student(world, "Ben")
    await world.emu.user_sends_command(uid, "start")
    await world.replies(uid, 2)
    await world.emu.user_shares_contact(uid, "+1 415 555 0000", own=False)
    sent = await world.replies(uid, 3)
    assert "someone else's contact card" in (sent[-1].text or "")
    phone = db(world, lambda s: s.execute(
        select(Person.phone_e164).where(Person.display_name == "Ben")).scalar())
    assert phone is None


async def test_settings_buttons_change_the_language(world: World) -> None:
    uid = student(world, "Sam")
    await world.emu.user_sends_command(uid, "settings")
    sent = await world.replies(uid, 1)
    assert "Your settings" in (sent[-1].text or "")
    await world.emu.user_presses_button(uid, sent[-1].message_id, "c:language")
    sent = await world.replies(uid, 2)
    await world.emu.user_presses_button(uid, sent[-1].message_id, "c:ru")
    sent = await world.replies(uid, 3)
    assert any("\u0400" <= ch <= "\u04ff" for ch in sent[-1].text or "")


async def test_forged_and_stale_buttons_get_a_polite_answer(world: World) -> None:
    uid = student(world, "Zoe")
    await world.emu.user_sends_command(uid, "settings")
    first = (await world.replies(uid, 1))[-1]
    for data in ("garbage", "c:" + "x" * 62, "c:yes", ""):
        before = len(world.emu.messages_to(uid))
        query = await world.emu.user_presses_button(uid, first.message_id, data,
                                                    check_keyboard=False)
        sent = await world.replies(uid, before + 1)
        assert "no longer active" in (sent[-1].text or "")
        assert query in {a.callback_query_id for a in world.emu.answered_callbacks}
    assert not world.emu.open_callbacks


@ALSO_ON_POSTGRES
async def test_duplicate_updates_are_answered_once(world: World) -> None:
    uid = student(world, "Dup")
    world.emu.register_chat(uid)
    update = {"update_id": world.emu.last_update_id + 1, "message": {
        "message_id": 1, "date": 1_790_000_000, "text": "/help",
        "chat": {"id": uid, "type": "private", "first_name": "Dup"},
        "from": {"id": uid, "is_bot": False, "first_name": "Dup", "language_code": "en"}}}
    await world.emu.push_raw_update(update)
    await world.emu.push_raw_update(update)
    earlier = await world.settle(uid)
    assert len(earlier) == 1


async def test_non_text_messages_get_a_notice_and_groups_are_ignored(world: World) -> None:
    uid = student(world, "Pat")
    await world.emu.user_sends_sticker(uid)
    await world.emu.user_sends_photo(uid, caption="my homework")
    await world.emu.user_sends_voice(uid)
    group = await world.emu.group_message(-100_200, uid, "/start")
    channel = await world.emu.channel_post(-100_300_000_000_0, "hello subscribers")
    sent = await world.settle(uid)
    assert [r.text for r in sent] == ["Sorry, I can only read text messages. "
                                      "Please type your answer."] * 3
    assert world.emu.messages_to(-100_200) == []
    logged = db(world, lambda s: set(s.execute(select(MessageLog.external_id)).scalars()))
    assert {f"tg:{group['update_id']}", f"tg:{channel['update_id']}"}.isdisjoint(logged)


async def test_edited_messages_are_ignored(world: World) -> None:
    uid = student(world, "Eve")
    await world.emu.user_sends_text(uid, "hi")
    await world.replies(uid, 2)
    await world.emu.user_edits_message(uid, 1, "/settings")
    earlier = await world.settle(uid)
    assert len(earlier) == 2


async def test_malformed_updates_are_acknowledged_and_skipped(world: World) -> None:
    uid = student(world, "Mal")
    world.emu.register_chat(uid)
    bad = {"update_id": world.emu.last_update_id + 1, "message": {"nonsense": True}}
    if world.mode == "webhook":
        from tests.telegram_world import WEBHOOK_SECRET

        assert await world.emu.post_to_webhook(bad, secret=WEBHOOK_SECRET) == 200
        assert await world.emu.post_to_webhook([1, 2], secret=WEBHOOK_SECRET) == 200  # type: ignore[arg-type]
    else:
        await world.emu.push_raw_update(bad)
    assert await world.settle(uid) == []  # the poller went on past it


async def test_a_shared_uk_contact_without_plus_gets_the_us_only_answer(world: World) -> None:
    uid = student(world, "Olly")
    await world.emu.user_sends_command(uid, "start")
    await world.replies(uid, 2)
    await world.emu.user_shares_contact(uid, "447911123456")  # Telegram's format: no "+"
    sent = await world.replies(uid, 3)
    assert "only text US phone numbers" in (sent[-1].text or "")
    stored = db(world, lambda s: s.execute(
        select(Person.phone_e164).where(Person.display_name == "Olly")).scalar())
    assert stored == "+447911123456"
