"""Questions and crisis safety end to end: the Telegram emulator and the Twilio emulator over real
HTTP. (The web chat's browser test is in test_webchat_browser.py.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.clock import FakeClock
from storage.tables import Delivery, Escalation, KnowledgeAnswer
from tests.sms_world import SmsWorld, sms_world
from tests.telegram_world import World, telegram_world
from tests.transcript import add_student

pytestmark = pytest.mark.e2e

# One message a language that must reach the crisis reply, whatever the flow is doing.
CRISIS = {
    "en": ("i want to kill myself", "988"),
    "es": ("quiero suicidarme", "988"),
    "hi": ("मैं आत्महत्या करना चाहता हूँ", "988"),
    "ru": ("я хочу покончить с собой", "988"),
}
# 23:30 in New York: deep in quiet hours for proactive texts.
LATE_NY = datetime(2026, 11, 25, 4, 30, tzinfo=UTC)
NOON_NY = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)


def db(runtime: Any, work: Any) -> Any:
    return runtime.db.run_sync(work)


def buttons(record: Any) -> list[dict[str, Any]]:
    markup = record.reply_markup or {}
    return [b for row in markup.get("inline_keyboard", []) for b in row]


def feedback_rows(runtime: Any) -> list[tuple[str | None, bool | None]]:
    query = select(KnowledgeAnswer.entry_id, KnowledgeAnswer.helpful)
    return [tuple(r) for r in db(runtime, lambda s: s.execute(query).all())]


def urgent_escalations(runtime: Any) -> list[Escalation]:
    query = select(Escalation).where(Escalation.priority == "urgent")
    return db(runtime, lambda s: list(s.execute(query).scalars()))


# -- Telegram --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
async def tg(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    path: Path = tmp_path_factory.mktemp("kb-tg") / "tg.sqlite3"
    async with telegram_world(f"sqlite:///{path}", "polling", per_chat_per_second=5) as w:
        yield w


def tg_student(world: World, name: str, *, eligible: bool = True, locale: str = "en") -> int:
    user_id = world.new_user_id()
    add_student(world.runtime, name, channel="telegram", address=str(user_id),
                eligible=eligible, locale=locale)
    return user_id


async def test_telegram_question_answered_and_feedback_recorded(tg: World) -> None:
    uid = tg_student(tg, "Sam", eligible=False)
    await tg.emu.user_sends_text(uid, "hi")
    sent = await tg.replies(uid, 2)  # a first contact: the study reminders question
    no = next(b for b in buttons(sent[-1]) if b["text"] == "No")
    await tg.emu.user_presses_button(uid, sent[-1].message_id, no["callback_data"])
    await tg.replies(uid, 3)
    await tg.emu.user_sends_text(uid, "where can i find the recording of the class i missed")
    sent = await tg.replies(uid, 5)
    assert sent[-1].text == "Did this help?"
    yes = next(b for b in buttons(sent[-1]) if b["text"] == "Yes")
    await tg.emu.user_presses_button(uid, sent[-1].message_id, yes["callback_data"])
    sent = await tg.replies(uid, 6)
    assert "glad it helped" in (sent[-1].text or "")
    assert ("class_recordings", True) in feedback_rows(tg.runtime)


async def test_telegram_question_at_the_phone_step_then_the_phone_again(tg: World) -> None:
    uid = tg_student(tg, "Ana")
    await tg.emu.user_sends_command(uid, "start")
    await tg.replies(uid, 2)
    await tg.emu.user_sends_text(uid, "why do you need my phone number?")
    sent = await tg.replies(uid, 4)
    assert "couldn't read" not in (sent[2].text or "")
    share = (sent[3].reply_markup or {})["keyboard"][0][0]
    assert share["request_contact"] is True
    await tg.emu.user_shares_contact(uid, "+1 415 555 2671")
    sent = await tg.replies(uid, 5)
    assert "Do you agree" in (sent[-1].text or "")


@pytest.mark.parametrize("language", sorted(CRISIS))
async def test_telegram_crisis_gets_the_resources_first(tg: World, language: str) -> None:
    uid = tg_student(tg, "Kim", locale=language)
    await tg.emu.user_sends_command(uid, "start")
    await tg.replies(uid, 2)  # the consent question: the bot waits for a phone number
    text, resource = CRISIS[language]
    await tg.emu.user_sends_text(uid, text)
    sent = await tg.replies(uid, 3)
    assert resource in (sent[2].text or "")
    # Messages to one chat go out in order: once /mydata is answered, nothing else is coming.
    await tg.emu.user_sends_command(uid, "mydata")
    sent = await tg.replies(uid, 4)
    assert len(sent) == 4 and "Kim" in (sent[3].text or "")  # only the crisis reply before it
    assert sent[3].method == "sendDocument"  # the file, captioned with the summary
    assert any(e.tags == ["suicide"] for e in urgent_escalations(tg.runtime))


# -- SMS -------------------------------------------------------------------------------------

@pytest.fixture
async def sms(sqlite_url: str) -> AsyncIterator[SmsWorld]:
    async with sms_world(sqlite_url, FakeClock(NOON_NY)) as w:
        yield w


async def test_sms_question_answered_with_numbered_feedback(sms: SmsWorld) -> None:
    phone = "+14155550123"
    add_student(sms.runtime, "Sam", channel="sms", address=phone, eligible=False)
    await sms.text(phone, "hi")
    await sms.emu.wait_for(lambda: len(sms.emu.messages_to(phone)) == 2)
    assert "study reminders" in sms.bodies_to(phone)[-1]  # a first contact: asked once
    await sms.text(phone, "2")
    await sms.emu.wait_for(lambda: len(sms.emu.messages_to(phone)) == 3)
    await sms.text(phone, "how do i get my certificate")
    await sms.emu.wait_for(lambda: len(sms.emu.messages_to(phone)) == 5)
    assert "Reply 1 for Yes, 2 for No" in sms.bodies_to(phone)[-1]
    await sms.text(phone, "2")
    await sms.emu.wait_for(lambda: len(sms.emu.messages_to(phone)) >= 6)
    assert "Sorry it didn't help" in sms.bodies_to(phone)[5]
    assert feedback_rows(sms.runtime) == [("certificate", False)]


async def test_sms_question_at_the_phone_step(sms: SmsWorld) -> None:
    phone = "+14155550124"
    add_student(sms.runtime, "Ana", channel="sms", address=phone)
    await sms.text(phone, "hi")
    await sms.emu.wait_for(lambda: len(sms.emu.messages_to(phone)) == 2)
    await sms.text(phone, "is coaching free?")
    await sms.emu.wait_for(lambda: len(sms.emu.messages_to(phone)) == 4)
    assert "US mobile phone number" in sms.bodies_to(phone)[-1]


@pytest.mark.parametrize("language", sorted(CRISIS))
async def test_sms_crisis_in_quiet_hours_is_answered_at_once(
    sqlite_url: str, language: str
) -> None:
    phone = "+12125550188"
    async with sms_world(sqlite_url, FakeClock(LATE_NY)) as world:
        add_student(world.runtime, "Lee", channel="sms", address=phone, locale=language)
        text, resource = CRISIS[language]
        await world.text(phone, text)
        await world.emu.wait_for(lambda: len(world.emu.messages_to(phone)) == 1)
        assert resource in world.bodies_to(phone)[0]
        kinds = db(world.runtime, lambda s: list(s.execute(
            select(Delivery.kind, Delivery.status).where(Delivery.address == phone)).all()))
        assert [k for k, _ in kinds] == ["safety"]
        assert len(urgent_escalations(world.runtime)) == 1
