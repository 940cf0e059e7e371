"""Compliance keywords in a chat among everything else a turn does: a mentor's hold, a crisis,
staff, buttons. Through the real engine on web chat addresses (SQLite)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from bot.app import Runtime, build_runtime
from bot.clock import FakeClock
from storage.chat_opt_outs import chat_state
from storage.tables import Delivery
from tests.conftest import make_settings
from tests.test_mentors import add_mentor, inbox, student_asks_for_a_mentor
from tests.transcript import Chatter, add_student


@pytest.fixture
def runtime(sqlite_url: str, clock: FakeClock) -> Iterator[Runtime]:
    rt = build_runtime(make_settings(sqlite_url), clock=clock)
    yield rt
    rt.db.close()


def opted_out(runtime: Runtime, chatter: Chatter) -> bool:
    state = runtime.db.run_sync(lambda s: chat_state(s, chatter.channel, chatter.address))
    return state is not None and state.opted_out


async def test_stop_during_a_mentors_hold_is_answered_by_the_bot_not_relayed(
    runtime: Runtime,
) -> None:
    dana = add_mentor(runtime, "Dana Brooks", languages=["en"])
    sam, escalation = await student_asks_for_a_mentor(runtime)
    await dana.says(f"/take {escalation.id}")
    relayed = len(inbox(runtime, dana))
    [confirmation] = await sam.says("STOP")
    assert "Reply START" in confirmation.text and opted_out(runtime, sam)
    assert len(inbox(runtime, dana)) == relayed  # the keyword is not the mentor's to read
    # The conversation Sam asked for goes on: a mentor's answer is not a proactive message.
    await dana.says("Noted: no more reminders. Anything else about your login?")
    await runtime.dispatcher.drain()
    [relay] = [d for d in inbox(runtime, sam) if d.kind == "relay"][-1:]
    assert relay.status == "sent"


async def test_a_crisis_comes_first_even_with_a_keyword_word_in_it(runtime: Runtime) -> None:
    ana = add_student(runtime, "Ana")
    [reply] = await ana.says("stop. I want to end my life")
    assert "988" in reply.text
    assert not opted_out(runtime, ana)


async def test_staff_words_in_a_chat_are_for_the_student(runtime: Runtime) -> None:
    dana = add_mentor(runtime, "Dana Brooks", languages=["en"])
    sam, escalation = await student_asks_for_a_mentor(runtime)
    await dana.says(f"/take {escalation.id}")
    assert await dana.says("stop") == []  # relayed, as anything else a holding mentor writes
    assert inbox(runtime, sam)[-1].text.endswith("stop")
    assert not opted_out(runtime, dana)


async def test_a_pressed_button_labelled_like_a_keyword_is_an_answer(runtime: Runtime) -> None:
    ana = add_student(runtime, "Ana", eligible=False)
    await ana.says("Stop", choice="stop")  # a button's label is its text on the web chat
    assert not opted_out(runtime, ana)
    compliance = select(Delivery).where(Delivery.kind == "compliance")
    assert runtime.db.run_sync(lambda s: list(s.execute(compliance).scalars())) == []
