"""Opt-outs on every channel, on facts alone: the send-time policy, the compliance answers, and
Telegram's `my_chat_member` (block and unblock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiogram.types import Update

from bot.channels.telegram_inbound import Ignore, Reachability, classify
from bot.i18n import Gettext, Translator
from bot.settings import SUPPORTED_LOCALES, Settings
from handlers.keywords import Keyword
from handlers.optout import OptState, Scope, compliance_answer, keyword_of
from scheduler.policy import PROACTIVE_KINDS, Decision, DeliveryFacts, SendPolicy

POLICY = SendPolicy(fallback_zone="America/New_York")
MORNING_NY = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # 10:00 in New York
NY_PHONE = "+12125550100"
ANSWERS = ("reply", "relay", "safety", "compliance", "system", "staff")
OUT, IN, HELP, PAUSE = Keyword.OPT_OUT, Keyword.OPT_IN, Keyword.HELP, Keyword.PAUSE


def chat(kind: str, **kw: Any) -> DeliveryFacts:
    return DeliveryFacts(kind=kind, channel="telegram", address="42", **kw)


def sms(kind: str, **kw: Any) -> DeliveryFacts:
    return DeliveryFacts(kind=kind, channel="sms", address=NY_PHONE, **kw)


def verdict(facts: DeliveryFacts) -> tuple[Decision, str]:
    found = POLICY.verdict(facts, MORNING_NY)
    return found.decision, found.reason


# -- the send-time policy ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(PROACTIVE_KINDS))
def test_a_chats_stop_suppresses_what_the_person_did_not_ask_for(kind: str) -> None:
    assert verdict(chat(kind, opted_out=True)) == (Decision.SUPPRESS, "opted_out")
    assert verdict(chat(kind))[0] is Decision.SEND


@pytest.mark.parametrize("kind", ANSWERS)
def test_a_chats_stop_leaves_answers_compliance_and_safety(kind: str) -> None:
    assert verdict(chat(kind, opted_out=True)) == (Decision.SEND, "")


def test_a_chats_pause_holds_nudges_back_but_not_replies() -> None:
    paused = MORNING_NY + timedelta(days=14)
    assert verdict(chat("nudge", paused_until=paused)) == (Decision.SUPPRESS, "paused")
    assert verdict(chat("reply", paused_until=paused))[0] is Decision.SEND
    assert verdict(chat("nudge", paused_until=MORNING_NY))[0] is Decision.SEND  # it has ended


def test_a_numbers_stop_still_stops_every_text_but_the_confirmation() -> None:
    assert verdict(sms("reply", opted_out=True)) == (Decision.SUPPRESS, "opted_out")
    assert verdict(sms("compliance", opted_out=True))[0] is Decision.SEND


@pytest.mark.parametrize("kind", ["nudge", "digest", "reply", "compliance", "relay", "system"])
def test_no_sms_to_a_student_under_13(kind: str) -> None:
    assert verdict(sms(kind, under_13=True)) == (Decision.SUPPRESS, "under_13")


def test_a_child_still_gets_crisis_lines_and_chat_messages() -> None:
    assert verdict(sms("safety", under_13=True))[0] is Decision.SEND
    assert verdict(chat("nudge", under_13=True))[0] is Decision.SEND
    assert verdict(chat("reply", under_13=True))[0] is Decision.SEND


# -- the compliance answers --------------------------------------------------------------------


@pytest.fixture(scope="module")
def t() -> Gettext:
    locales = Settings(_env_file=None).locales_dir  # type: ignore[call-arg]
    return Translator(locales, SUPPORTED_LOCALES).for_locale("en")


@pytest.mark.parametrize(
    "text,scope,expected",
    [
        ("STOP", Scope.CHAT, OUT),
        ("stop texting me", Scope.CHAT, OUT),
        ("no me escriban más", Scope.CHAT, OUT),
        ("стоп", Scope.CHAT, OUT),
        ("बंद करो", Scope.CHAT, OUT),
        ("/stop", Scope.CHAT, OUT),
        ("I can't stop worrying about my test", Scope.CHAT, None),
        ("/help", Scope.CHAT, None),  # the bot's command, with its menu
        ("/start", Scope.CHAT, None),
        ("/help", Scope.NUMBER, HELP),
        ("yes", Scope.CHAT, None),  # an answer to the bot's question
        ("yes", Scope.NUMBER, IN),
        ("START", Scope.CHAT, IN),
        ("pausa", Scope.CHAT, PAUSE),
        ("ayuda", Scope.CHAT, HELP),
    ],
)
def test_keywords_by_scope(text: str, scope: Scope, expected: Keyword | None) -> None:
    assert keyword_of(text, scope) is expected


def test_a_pressed_button_is_never_a_keyword_and_the_carriers_word_decides() -> None:
    assert keyword_of("Stop", Scope.CHAT, pressed=True) is None
    assert keyword_of("ARRET", Scope.NUMBER, answered="opt_out") is OUT


def effects(answer: Any) -> list[str]:
    return [e.kind for e in answer.effects]


def test_stop_in_a_chat_confirms_every_time_and_says_how_to_resume(t: Gettext) -> None:
    first = compliance_answer(OUT, "STOP", OptState(), t, Scope.CHAT)
    again = compliance_answer(OUT, "STOP", OptState(opted_out=True), t, Scope.CHAT)
    assert first is not None and again is not None
    assert effects(first) == ["chat_opt_out"] and effects(again) == []
    assert first.replies == again.replies and "START" in first.replies[0].text


def test_start_in_a_chat_resumes_after_stop_or_pause_and_is_ordinary_otherwise(
    t: Gettext,
) -> None:
    for state in (OptState(opted_out=True), OptState(paused=True)):
        answer = compliance_answer(IN, "START", state, t, Scope.CHAT)
        assert answer is not None and effects(answer) == ["chat_opt_in"]
        assert "on again" in answer.replies[0].text
    assert compliance_answer(IN, "START", OptState(), t, Scope.CHAT) is None


def test_pause_and_help_in_a_chat(t: Gettext) -> None:
    paused = compliance_answer(PAUSE, "PAUSE", OptState(), t, Scope.CHAT)
    assert paused is not None and effects(paused) == ["chat_pause"]
    assert paused.effects[0].args == {"days": 14} and "START" in paused.replies[0].text
    stopped = compliance_answer(PAUSE, "PAUSE", OptState(opted_out=True), t, Scope.CHAT)
    assert stopped is not None and effects(stopped) == [] and "START" in stopped.replies[0].text
    helped = compliance_answer(HELP, "help", OptState(), t, Scope.CHAT)
    assert helped is not None and effects(helped) == []
    assert all(word in helped.replies[0].text for word in ("STOP", "PAUSE", "START", "/help"))
    assert "rates" not in helped.replies[0].text  # no carrier wording in a chat


def test_a_start_the_carrier_answered_opts_in_and_its_yes_stays_an_answer(t: Gettext) -> None:
    start = compliance_answer(IN, "START", OptState(), t, answered=True)
    assert start is not None and effects(start) == ["phone_opt_in"]
    assert compliance_answer(IN, "yes", OptState(), t, answered=True) is None
    assert compliance_answer(IN, "START", OptState(), t) is None  # ours alone: nothing to do


# -- Telegram: blocked and unblocked -----------------------------------------------------------


def membership(old: str, new: str, chat_type: str = "private") -> Update:
    """A `my_chat_member` update as Telegram sends it: the bot's status before and after."""
    bot = {"id": 1, "is_bot": True, "first_name": "Bot", "username": "b_bot"}
    person = {"id": 42, "is_bot": False, "first_name": "Ann"}
    chat_: dict[str, Any] = {"id": 42, "type": "private", "first_name": "Ann"}
    if chat_type != "private":
        chat_ = {"id": -100, "type": chat_type, "title": "Group"}

    def state(status: str) -> dict[str, Any]:
        return {"user": bot, "status": status, **({"until_date": 0} if status == "kicked" else {})}

    event = {"chat": chat_, "from": person, "date": 1_790_000_000,
             "old_chat_member": state(old), "new_chat_member": state(new)}  # fmt: skip
    return Update.model_validate({"update_id": 7, "my_chat_member": event})


def test_blocking_and_unblocking_the_bot_change_reachability() -> None:
    assert classify(membership("member", "kicked")) == Reachability("42", False)
    assert classify(membership("kicked", "member")) == Reachability("42", True)


def test_membership_in_groups_and_other_statuses_is_ignored() -> None:
    assert isinstance(classify(membership("member", "kicked", "group")), Ignore)
    assert isinstance(classify(membership("member", "left")), Ignore)
