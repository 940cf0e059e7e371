"""The escalation desk end to end over real HTTP.

Telegram: mentors and students are chats of the Telegram emulator (polling): the card with its
Take/Pass buttons, a pressed Take, relays both ways, /release, two Takes at once, a student
typing a mentor command. SMS: students and parents text through the Twilio emulator; the mentor
is a web chat person driving the desk through the web chat's own HTTP API (what the page posts),
so relays to the SMS student go out the way they do in production. Nudges wait while a mentor
holds the student and go once the hold is over. (The browser version is test_mentors_browser.py;
the in-process transcripts are test_mentors.py.)
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest
from sqlalchemy import select, update

from bot import desk_timers
from bot.app import Runtime
from bot.clock import FakeClock
from scheduler.policy import MENTOR_HOLD_RECHECK
from storage.consent import append_consent
from storage.mentors import create_invitation, ensure_profile
from storage.tables import Conversation, Delivery, Escalation, Identity, Person
from tests.emulators.telegram_state import SentRecord
from tests.sms_world import SmsWorld, sms_world
from tests.telegram_world import ADMIN_ID, World, telegram_world
from tests.transcript import add_student

pytestmark = pytest.mark.e2e

NOON_NY = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)  # a Tuesday; 09:00 in San Francisco
SAM_SMS = "+14155550142"
PARENT_SMS = "+14155550160"
WEB_DANA = "web-dana-brooks-mentor"
JOINED = "Dana (mentor) has joined the conversation. What you write now goes to them."
T = TypeVar("T")
_message_ids = itertools.count(1)


# -- shared helpers --------------------------------------------------------------------------

def db(runtime: Runtime, work: Callable[[Any], T]) -> T:
    return runtime.db.run_sync(work)


def person_at(runtime: Runtime, channel: str, address: str) -> int:
    query = select(Identity.person_id).where(Identity.channel == channel,
                                             Identity.address == address)  # fmt: skip
    return int(db(runtime, lambda s: s.execute(query).scalar_one()))


def make_mentor(runtime: Runtime, channel: str, address: str) -> int:
    """Role mentor, with a profile that is always at work; returns the person id."""
    person_id = person_at(runtime, channel, address)
    now = runtime.clock.now()

    def promote(session: Any) -> None:
        session.get(Person, person_id).role = "mentor"
        ensure_profile(session, person_id, now, languages=["en"], work_start="00:00",
                       work_end="23:59", work_days=list(range(7)))  # fmt: skip

    db(runtime, promote)
    return person_id


def escalations(runtime: Runtime) -> list[Escalation]:
    query = select(Escalation).order_by(Escalation.id)
    return db(runtime, lambda s: list(s.execute(query).scalars()))


def deliveries_to(runtime: Runtime, address: str) -> list[Delivery]:
    query = select(Delivery).where(Delivery.address == address).order_by(Delivery.id)
    return db(runtime, lambda s: list(s.execute(query).scalars()))


def mode_of(runtime: Runtime, person_id: int) -> str | None:
    query = select(Conversation.mode).where(Conversation.person_id == person_id)
    return db(runtime, lambda s: s.execute(query).scalar())


async def eventually(probe: Callable[[], Awaitable[T]], done: Callable[[T], bool],
                     timeout: float = 5.0) -> T:  # noqa: ASYNC109  # fmt: skip
    """Poll an observable state (an HTTP inbox, the database) until it is reached."""
    async with asyncio.timeout(timeout):
        while True:
            value = await probe()
            if done(value):
                return value
            await asyncio.sleep(0.02)


# -- Telegram --------------------------------------------------------------------------------

@pytest.fixture
async def tg(tmp_path: Path) -> AsyncIterator[World]:
    """One world per test: mentors made by one test must not be offered another's requests."""
    url = f"sqlite:///{tmp_path}/desk-tg.sqlite3"
    async with telegram_world(url, "polling", per_chat_per_second=5) as world:
        yield world


def tg_person(world: World, name: str, *, mentor: bool = False) -> int:
    """A Telegram chat known to the bot (and the emulator) before it writes; returns the id."""
    user_id = world.new_user_id()
    world.emu.register_chat(user_id, first_name=name.split()[0])
    add_student(world.runtime, name, channel="telegram", address=str(user_id), eligible=False)
    if mentor:
        make_mentor(world.runtime, "telegram", str(user_id))
    return user_id


def buttons(record: SentRecord) -> list[tuple[str, str]]:
    markup = record.reply_markup or {}
    return [(b["text"], b["callback_data"]) for row in markup.get("inline_keyboard", [])
            for b in row]  # fmt: skip


def texts(world: World, chat_id: int) -> list[str]:
    return [r.text or "" for r in world.emu.messages_to(chat_id)]


async def message_with(world: World, chat_id: int, fragment: str) -> SentRecord:
    """Wait for a message to this chat containing `fragment`; return it."""
    def has(_record: SentRecord) -> bool:
        return any(fragment in (r.text or "") for r in world.emu.messages_to(chat_id))

    await world.emu.wait_for(has, 5)
    return next(r for r in world.emu.messages_to(chat_id) if fragment in (r.text or ""))


async def tg_says(world: World, chat_id: int, text: str) -> None:
    first = str(world.emu.users[chat_id].first_name)
    if text.startswith("/"):
        command, _, args = text[1:].partition(" ")
        await world.emu.user_sends_command(chat_id, command, args, first_name=first)
    else:
        await world.emu.user_sends_text(chat_id, text, first_name=first)


async def test_telegram_take_relay_both_ways_and_release(tg: World) -> None:
    dana = tg_person(tg, "Dana Brooks", mentor=True)
    sam = tg_person(tg, "Sam Lee")
    await tg_says(tg, sam, "/mentor")
    [raised] = await tg.replies(sam, 1)
    [row] = escalations(tg.runtime)
    assert f"request #{row.id}" in (raised.text or "")
    assert "A mentor will reply here by" in (raised.text or "")

    [card] = await tg.replies(dana, 1)
    assert f"Request #{row.id} (normal): mentor_request" in (card.text or "")
    assert "Sam Lee" in (card.text or "")
    assert buttons(card) == [("Take", f"c:take:{row.id}"), ("Pass", f"c:pass:{row.id}")]

    query_id = await tg.emu.user_presses_button(dana, card.message_id, f"c:take:{row.id}",
                                                first_name="Dana")  # fmt: skip
    taken = (await tg.replies(dana, 2))[1]
    assert (taken.text or "").startswith(f"You have taken request #{row.id} (Sam Lee).")
    assert query_id in {a.callback_query_id for a in tg.emu.answered_callbacks}
    assert (await tg.replies(sam, 2))[1].text == JOINED

    await tg_says(tg, sam, "i cant log in to my course")
    relayed = (await tg.replies(dana, 3))[2]
    assert relayed.text == f"Sam (#{row.id}): i cant log in to my course"
    # The student's turn is committed (its relay reached Dana): the bot wrote nothing to Sam.
    assert [d.kind for d in deliveries_to(tg.runtime, str(sam))] == ["reply", "relay"]
    assert len(tg.emu.messages_to(sam)) == 2

    await tg_says(tg, dana, "Try resetting your password from the login page")
    answer = (await tg.replies(sam, 3))[2]
    assert answer.text == "Dana (mentor): Try resetting your password from the login page"
    assert buttons(answer) == []

    await tg_says(tg, dana, "/release")
    closed = (await tg.replies(dana, 4))[3]
    assert (closed.text or "").startswith(f"Request #{row.id} is closed (released)")
    back = (await tg.replies(sam, 4))[3]
    assert (back.text or "").startswith("Dana has handed the conversation back to me.")

    # Back with the bot: /mydata is answered, and nothing else reached either chat before it.
    assert [r.text for r in await tg.settle(sam)] == [
        raised.text, JOINED, answer.text, back.text]
    assert [r.text for r in await tg.settle(dana)] == [
        card.text, taken.text, relayed.text, closed.text]
    [row] = escalations(tg.runtime)
    assert (row.status, row.mentor_id, row.first_response_at is not None) == (
        "released", person_at(tg.runtime, "telegram", str(dana)), True)
    assert mode_of(tg.runtime, row.person_id) == "bot"


async def test_telegram_two_mentors_press_take_at_once_and_one_wins(tg: World) -> None:
    mentors = {tg_person(tg, "Dana Brooks", mentor=True): "Dana Brooks",
               tg_person(tg, "Lee Park", mentor=True): "Lee Park"}  # fmt: skip
    sam = tg_person(tg, "Sam Lee")
    await tg_says(tg, sam, "i want to kill myself")
    await message_with(tg, sam, "988")  # the crisis resources come first
    cards = {chat: (await tg.replies(chat, 1))[0] for chat in mentors}
    [row] = escalations(tg.runtime)
    assert (row.priority, row.tags) == ("urgent", ["suicide"])
    for card in cards.values():  # urgent: offered to every available mentor at once
        assert f"Request #{row.id} (URGENT)" in (card.text or "")
        assert ("Take", f"c:take:{row.id}") in buttons(card)

    await asyncio.gather(*(
        tg.emu.user_presses_button(chat, card.message_id, f"c:take:{row.id}",
                                   first_name=mentors[chat].split()[0])
        for chat, card in cards.items()
    ))  # fmt: skip
    answers = {chat: (await tg.replies(chat, 2))[1].text or "" for chat in mentors}
    won = [c for c, text in answers.items() if text.startswith("You have taken request")]
    lost = [c for c, text in answers.items() if "already taken by" in text]
    assert len(won) == 1 and len(lost) == 1, answers
    winner = mentors[won[0]]
    assert answers[lost[0]] == f"Request #{row.id} was already taken by {winner}."
    [row] = escalations(tg.runtime)
    assert (row.status, row.mentor_id) == ("taken", person_at(tg.runtime, "telegram",
                                                               str(won[0])))  # fmt: skip
    await message_with(tg, sam, "(mentor) has joined")
    joined = [d.text for d in deliveries_to(tg.runtime, str(sam)) if "has joined" in d.text]
    assert joined == [f"{winner.split()[0]} (mentor) has joined the conversation. What you "
                      "write now goes to them."]  # fmt: skip


async def test_telegram_student_typing_take_is_refused(tg: World) -> None:
    tg_person(tg, "Dana Brooks", mentor=True)
    sam = tg_person(tg, "Sam Lee")
    await tg_says(tg, sam, "/mentor")
    await tg.replies(sam, 1)
    [before] = escalations(tg.runtime)
    assert (before.status, before.mentor_id) == ("offered", None)
    await tg_says(tg, sam, f"/take {before.id}")
    assert (await tg.replies(sam, 2))[1].text == "That command is for mentors."
    [after] = escalations(tg.runtime)
    assert after.model_dump() == before.model_dump()  # not a single field changed
    assert mode_of(tg.runtime, before.person_id) == "bot"
    assert len(await tg.settle(sam)) == 2  # and nothing else was said


# -- SMS (with a web chat mentor) ------------------------------------------------------------

@pytest.fixture
async def sms(sqlite_url: str) -> AsyncIterator[SmsWorld]:
    async with sms_world(sqlite_url, FakeClock(NOON_NY)) as world:
        yield world


def web_mentor(world: SmsWorld) -> int:
    add_student(world.runtime, "Dana Brooks", address=WEB_DANA, eligible=False)
    return make_mentor(world.runtime, "webchat", WEB_DANA)


async def web_says(world: SmsWorld, address: str, text: str = "",
                   choice: str | None = None) -> None:  # fmt: skip
    """What the web chat page posts when its person types (or presses a button)."""
    body: dict[str, Any] = {"address": address, "message_id": f"m{next(_message_ids)}",
                            "text": text}  # fmt: skip
    if choice is not None:
        body["choice_id"] = choice
    url = f"{world.local_url}/chat/api/messages"
    async with aiohttp.ClientSession() as http, http.post(url, json=body) as response:
        assert response.status == 200, await response.text()


async def web_inbox(world: SmsWorld, address: str) -> list[str]:
    """What the web chat page fetches when it polls: the messages sent to this address."""
    url = f"{world.local_url}/chat/api/messages"
    params = {"address": address, "after": "0"}
    async with aiohttp.ClientSession() as http, http.get(url, params=params) as response:
        assert response.status == 200
        return [m["text"] for m in (await response.json())["messages"]]


async def web_message_with(world: SmsWorld, address: str, fragment: str) -> list[str]:
    return await eventually(lambda: web_inbox(world, address),
                            lambda got: any(fragment in text for text in got))  # fmt: skip


async def sms_count(world: SmsWorld, phone: str, count: int) -> list[str]:
    await world.emu.wait_for(lambda: len(world.emu.messages_to(phone)) >= count)
    return world.bodies_to(phone)


async def test_sms_student_and_a_web_chat_mentor_relay_both_ways(sms: SmsWorld) -> None:
    web_mentor(sms)
    add_student(sms.runtime, "Sam Lee", channel="sms", address=SAM_SMS, eligible=False)
    await sms.text(SAM_SMS, "talk to a human")
    [row] = escalations(sms.runtime)
    [raised] = await sms_count(sms, SAM_SMS, 1)
    assert f"request #{row.id}" in raised
    inbox = await web_message_with(sms, WEB_DANA, f"Request #{row.id}")
    assert "Sam Lee" in inbox[-1]

    await web_says(sms, WEB_DANA, "Take", choice=f"take:{row.id}")
    assert (await sms_count(sms, SAM_SMS, 2))[1].startswith(JOINED)
    await web_says(sms, WEB_DANA, "Did you get the reset email?")
    assert (await sms_count(sms, SAM_SMS, 3))[2].startswith(
        "Dana (mentor): Did you get the reset email?")

    await sms.text(SAM_SMS, "no nothing came")
    await web_message_with(sms, WEB_DANA, f"Sam (#{row.id}): no nothing came")
    relay = [d for d in deliveries_to(sms.runtime, WEB_DANA) if "no nothing came" in d.text]
    assert [(d.channel, d.kind, d.status) for d in relay] == [("webchat", "staff", "sent")]
    # The bot stayed silent: the student's turn wrote nothing to the student.
    assert [d.kind for d in deliveries_to(sms.runtime, SAM_SMS)] == ["reply", "relay", "relay"]
    assert len(sms.emu.messages_to(SAM_SMS)) == 3

    await web_says(sms, WEB_DANA, "/release")
    assert "handed the conversation back to me" in (await sms_count(sms, SAM_SMS, 4))[3]
    await web_message_with(sms, WEB_DANA, f"Request #{row.id} is closed")
    assert escalations(sms.runtime)[0].status == "released"


async def test_sms_parent_texting_mentor_raises_a_request(sms: SmsWorld) -> None:
    web_mentor(sms)
    parent = sms.add_person(PARENT_SMS, role="parent", display_name="Asha Sharma",
                            locale="en", time_zone="America/Los_Angeles")  # fmt: skip
    await sms.text(PARENT_SMS, "MENTOR")
    [row] = escalations(sms.runtime)
    assert (row.person_id, row.status, row.channel, row.address) == (
        parent, "offered", "sms", PARENT_SMS)
    [answer] = await sms_count(sms, PARENT_SMS, 1)
    assert f"request #{row.id}" in answer and "A mentor will reply here by" in answer
    card = await web_message_with(sms, WEB_DANA, f"Request #{row.id}")
    assert "Asha Sharma" in card[-1]


async def test_sms_nudge_is_held_while_a_mentor_holds_the_student(sms: SmsWorld) -> None:
    web_mentor(sms)
    add_student(sms.runtime, "Sam Lee", channel="sms", address=SAM_SMS, eligible=False)
    sam = person_at(sms.runtime, "sms", SAM_SMS)
    sms.db(lambda s: append_consent(
        s, person_id=sam, purpose="nudges", decision="granted", phone=SAM_SMS, channel="sms",
        text_version="t", locale="en", source_message_id=None, now=sms.clock.now()))
    await sms.text(SAM_SMS, "talk to a human")
    [row] = escalations(sms.runtime)
    await web_says(sms, WEB_DANA, "Take", choice=f"take:{row.id}")
    await sms_count(sms, SAM_SMS, 2)
    assert mode_of(sms.runtime, sam) == "human"

    nudge = sms.queue(SAM_SMS, "Your next assignment is due Friday.", kind="nudge",
                      person_id=sam)  # fmt: skip
    sms.db(lambda s: s.execute(
        update(Delivery).where(Delivery.id == nudge).values(purpose="nudges")))
    held_at = sms.clock.now()
    assert await sms.runtime.dispatcher.drain() == 0
    row_now = sms.delivery(nudge)
    assert (row_now.status, row_now.error) == ("held", "mentor_holds")
    assert row_now.due_at.replace(tzinfo=UTC) == held_at + MENTOR_HOLD_RECHECK
    assert len(sms.emu.messages_to(SAM_SMS)) == 2  # only the request and the joined notice

    await web_says(sms, WEB_DANA, "/release")
    await sms_count(sms, SAM_SMS, 3)
    assert mode_of(sms.runtime, sam) == "bot"
    await sms.advance(MENTOR_HOLD_RECHECK + timedelta(minutes=1))
    assert await sms.runtime.dispatcher.drain() == 1
    bodies = await sms_count(sms, SAM_SMS, 4)
    assert bodies[3].startswith("Your next assignment is due Friday.")
    assert sms.delivery(nudge).status in ("sent", "delivered")


# -- Timers over Telegram: the idle return and a missed first-response target (fake clock) --

@pytest.fixture
async def tg_clocked(tmp_path: Path) -> AsyncIterator[tuple[World, FakeClock]]:
    clock = FakeClock(NOON_NY)
    url = f"sqlite:///{tmp_path}/desk-timers.sqlite3"
    async with telegram_world(url, "polling", clock=clock, per_chat_per_second=5) as world:
        yield world, clock


async def run_timers(world: World) -> None:
    """What the scheduler's escalation job and the drain do on their next tick."""
    desk = world.runtime.extras["desk"]
    clock = world.runtime.clock
    await world.runtime.db.run(lambda s: desk_timers.tick(desk, s, clock.now()))
    await world.runtime.dispatcher.drain()


async def test_telegram_an_idle_hold_returns_to_the_bot(
    tg_clocked: tuple[World, FakeClock],
) -> None:
    world, clock = tg_clocked
    mentor, student = tg_person(world, "Dana Brooks", mentor=True), tg_person(world, "Sam Lee")
    await tg_says(world, student, "/mentor")
    card = await message_with(world, mentor, "Request #")
    take = next(data for label, data in buttons(card) if label == "Take")
    await world.emu.user_presses_button(mentor, card.message_id, take)
    await message_with(world, student, "has joined")
    clock.advance(timedelta(hours=25))
    await run_timers(world)
    await message_with(world, student, "ended after a quiet while")
    await message_with(world, mentor, "went back to the bot")
    [row] = escalations(world.runtime)
    assert (row.status, row.resolution) == ("released", "idle")


async def test_telegram_a_missed_target_reaches_the_admin(
    tg_clocked: tuple[World, FakeClock],
) -> None:
    world, clock = tg_clocked
    mentor, student = tg_person(world, "Dana Brooks", mentor=True), tg_person(world, "Sam Lee")
    await tg_says(world, student, "/mentor")
    await message_with(world, mentor, "Request #")
    assert not any("Request #" in t for t in texts(world, ADMIN_ID))
    clock.advance(timedelta(hours=4, minutes=1))
    await run_timers(world)  # first breach: offered to the whole pool again
    cards = lambda _r: sum("Request #" in t for t in texts(world, mentor))  # noqa: E731
    await world.emu.wait_for(lambda r: cards(r) == 2, 5)
    clock.advance(timedelta(hours=4, minutes=1))
    await run_timers(world)  # second breach: the admins
    alert = await message_with(world, ADMIN_ID, "Request #")
    assert "Sam Lee" in (alert.text or "")
    assert escalations(world.runtime)[0].breaches == 2


async def test_telegram_an_invitation_link_makes_a_mentor_with_the_mentor_menu(tg: World) -> None:
    now = tg.runtime.clock.now()
    token = db(tg.runtime, lambda s: create_invitation(
        s, "mentor", "Nora Quinn", None, now, timedelta(days=7)))
    uid = tg.new_user_id()
    tg.emu.register_chat(uid, first_name="Nora")
    await tg.emu.user_sends_command(uid, "start", token)
    await message_with(tg, uid, "Welcome, Nora Quinn! You are now a mentor")
    # The menus' periodic job may get there first: sync now, then wait for the menu itself.
    await tg.runtime.extras["telegram_menus"].sync_changes()
    scope = json.dumps({"type": "chat", "chat_id": uid}, sort_keys=True, separators=(",", ":"))

    def menu() -> list[str]:
        return [c["command"] for c in tg.emu.commands.get((scope, ""), [])][:2]

    await tg.wait_until(lambda: menu() == ["queue", "mine"])
    other = tg.new_user_id()
    tg.emu.register_chat(other, first_name="Eve")
    await tg.emu.user_sends_command(other, "start", token)  # a forwarded link, used again
    await message_with(tg, other, "not valid")
    role = db(tg.runtime, lambda s: s.execute(select(Person.role).join(
        Identity, Identity.person_id == Person.id).where(Identity.address == str(other))).scalar())
    assert role == "student"
