"""Students' questions through the real engine: answers, "Did this help?", "not sure", a human on
request, and questions asked while a flow waits for something else (digressions)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from structlog.testing import capture_logs

from bot.app import Runtime, build_runtime
from bot.clock import FakeClock
from handlers.queries import answer_text
from storage.knowledge_answers import entry_stats
from storage.tables import Conversation, Escalation, KnowledgeAnswer, Person
from tests.conftest import make_settings
from tests.transcript import Chatter, add_student


@pytest.fixture
def runtime(sqlite_url: str, clock: FakeClock) -> Iterator[Runtime]:
    rt = build_runtime(make_settings(sqlite_url), clock=clock)
    yield rt
    rt.db.close()


def answers(runtime: Runtime) -> list[tuple[str | None, bool | None]]:
    query = select(KnowledgeAnswer.entry_id, KnowledgeAnswer.helpful).order_by(KnowledgeAnswer.id)
    return [tuple(r) for r in runtime.db.run_sync(lambda s: s.execute(query).all())]


def escalations(runtime: Runtime) -> list[Escalation]:
    query = select(Escalation).order_by(Escalation.id)
    return runtime.db.run_sync(lambda s: list(s.execute(query).scalars()))


def state(runtime: Runtime) -> tuple[str, str]:
    row = runtime.db.run_sync(lambda s: s.execute(select(Conversation)).scalars().one())
    return row.flow, row.state


async def resting(runtime: Runtime, locale: str = "en") -> Chatter:
    """An ineligible student: never asked about coaching; once they have answered the study
    reminders question of their first contact, the bot is at rest."""
    sam = add_student(runtime, "Sam", eligible=False, locale=locale)
    await sam.says("hi")
    await sam.picks("no")
    assert state(runtime) == ("main", "idle")
    sam.heard.clear()
    return sam


async def test_a_question_is_answered_and_the_feedback_is_stored(runtime: Runtime) -> None:
    sam = await resting(runtime)
    replies = await sam.says("i cant log in to my course")
    assert len(replies) == 2
    assert "Did this help?" in replies[1].text
    assert [c.id for c in replies[1].choices] == ["kb_yes", "kb_no"]
    assert answers(runtime) == [("login_trouble", None)]
    thanks = await sam.picks("kb_yes")
    assert "glad it helped" in thanks[0].text
    assert answers(runtime) == [("login_trouble", True)]


async def test_a_no_brings_in_a_mentor(runtime: Runtime) -> None:
    sam = await resting(runtime)
    await sam.says("where is the recording of yesterdays class")
    sorry = await sam.picks("kb_no")
    assert "Sorry it didn't help" in sorry[0].text and "request #" in sorry[1].text
    assert answers(runtime) == [("class_recordings", False)]
    [escalation] = escalations(runtime)
    assert (escalation.reasons, escalation.priority, escalation.status) == (
        ["not_helpful"], "normal", "open")


async def test_two_not_sure_in_a_row_bring_in_a_mentor(runtime: Runtime) -> None:
    sam = await resting(runtime)
    await sam.says("whats the capital of peru")
    assert escalations(runtime) == []
    await sam.says("i cant log in")  # an answer in between resets the count
    await sam.says("whats the capital of peru")
    assert escalations(runtime) == []
    raised = await sam.says("who won the game last night")
    assert "request #" in raised[0].text
    [escalation] = escalations(runtime)
    assert escalation.reasons == ["not_sure"]


async def test_the_mentor_button_of_not_sure_raises_a_request(runtime: Runtime) -> None:
    sam = await resting(runtime)
    await sam.says("whats the capital of peru")
    raised = await sam.picks("mentor")
    assert "request #" in raised[0].text
    [escalation] = escalations(runtime)
    assert escalation.reasons == ["mentor_request"]


async def test_an_uncovered_question_gets_an_honest_not_sure(runtime: Runtime) -> None:
    sam = await resting(runtime)
    [reply] = await sam.says("whats the capital of peru")
    assert "not sure" in reply.text and [c.id for c in reply.choices] == ["mentor"]
    assert answers(runtime) == [(None, None)]


@pytest.mark.parametrize(
    "locale,text",
    [
        ("en", "I want to talk to a human"),
        ("en", "can i speak with my mentor please"),
        ("es", "quiero hablar con una persona"),
        ("ru", "хочу поговорить с человеком"),
        ("hi", "मुझे किसी इंसान से बात करनी है"),
        ("hi", "mujhe mentor se baat karni hai"),
        ("en", "/mentor"),
    ],
)
async def test_asking_for_a_human_raises_one_escalation(
    runtime: Runtime, locale: str, text: str
) -> None:
    sam = await resting(runtime, locale)
    first = await sam.says(text)
    again = await sam.says(text)
    [escalation] = escalations(runtime)
    assert escalation.status == "open" and escalation.reasons == ["mentor_request"]
    assert str(escalation.id) in first[0].text and str(escalation.id) in again[0].text
    assert first[0].text != again[0].text  # the second says it joined the open request


async def test_greetings_and_thanks_are_not_questions(runtime: Runtime) -> None:
    sam = await resting(runtime)
    [hello] = await sam.says("hello")
    assert "/mentor" in hello.text and "/settings" in hello.text
    [welcome] = await sam.says("thanks")
    assert "welcome" in welcome.text
    assert answers(runtime) == []


async def test_answers_are_in_the_students_language(runtime: Runtime) -> None:
    olga = await resting(runtime, "ru")
    replies = await olga.says("не могу зайти в курс")
    assert replies[-1].text == "Это помогло?"


# -- Digressions: the bot waits for a phone number or an answer and gets a question instead --

async def waiting_for_phone(runtime: Runtime) -> Chatter:
    ana = add_student(runtime, "Ana")
    await ana.says("hi")
    assert state(runtime) == ("onboarding", "ask_phone")
    ana.heard.clear()
    return ana


async def test_a_question_at_the_phone_step_is_answered_and_the_phone_asked_again(
    runtime: Runtime,
) -> None:
    ana = await waiting_for_phone(runtime)
    replies = await ana.says("why do you need my phone number?")
    assert len(replies) == 2
    assert "couldn't read" not in replies[0].text
    assert replies[1].request_phone and "US mobile phone number" in replies[1].text
    assert state(runtime) == ("onboarding", "ask_phone")
    assert answers(runtime) == [("phone_number", None)]
    consent = await ana.says("(415) 555-2671")
    assert "Do you agree" in consent[0].text


# Each row: what the student types at the phone step -> what must follow.
PHONE_STEP_TABLE = [
    ("(415) 555-2671", "ask_consent", "Do you agree"),  # a number is a number
    ("555-1234", "ask_phone", "area code"),  # a bad number gets the phone error, not the KB
    ("my number is 415 555", "ask_phone", "area code"),  # digits: an attempt at a number
    ("No thanks", "idle", "won't be asked again"),  # the offered choice keeps its meaning
    ("/settings", "menu", "Your settings"),  # commands keep theirs
    ("how do i reset my password?", "ask_phone", "US mobile phone number"),  # KB + ask again
    ("what's the capital of peru?", "ask_phone", "not sure"),  # a question, not covered
    ("banana", "ask_phone", "couldn't read that"),  # not a question: the step's own answer
]


@pytest.mark.parametrize("text,expected_state,heard", PHONE_STEP_TABLE)
async def test_phone_step_table(
    runtime: Runtime, text: str, expected_state: str, heard: str
) -> None:
    ana = await waiting_for_phone(runtime)
    await ana.says(text)
    assert state(runtime)[1] == expected_state
    assert any(heard in t for t in ana.texts()), ana.texts()


CONSENT_STEP_TABLE = [
    ("yes", "idle", "signed up for coaching"),
    ("1", "idle", "signed up for coaching"),  # numbered choice
    ("no", "idle", "no coaching texts"),
    ("what is coaching?", "ask_consent", "Do you agree"),  # answered, then asked again
    ("maybe", "ask_consent", "Please answer Yes or No"),
]


@pytest.mark.parametrize("text,expected_state,heard", CONSENT_STEP_TABLE)
async def test_consent_step_table(
    runtime: Runtime, text: str, expected_state: str, heard: str
) -> None:
    ana = await waiting_for_phone(runtime)
    await ana.says("(415) 555-2671")
    ana.heard.clear()
    await ana.says(text)
    assert state(runtime)[1] == expected_state
    assert any(heard in t for t in ana.texts()), ana.texts()


async def test_a_question_in_settings_is_answered_and_the_menu_shown_again(
    runtime: Runtime,
) -> None:
    sam = await resting(runtime)
    await sam.says("/settings")
    sam.heard.clear()
    replies = await sam.says("how do i stop getting messages?")
    assert "Your settings" in replies[-1].text
    assert state(runtime) == ("settings", "menu")
    assert answers(runtime) == [("stop_messages", None)]


async def test_crisis_comes_first_is_logged_and_leaves_the_flow_where_it_was(
    runtime: Runtime,
) -> None:
    ana = await waiting_for_phone(runtime)
    with capture_logs() as logs:
        [reply] = await ana.says("i don't want to live anymore")
    assert reply.text.startswith("You can talk to someone right now")
    assert "988" in reply.text and "Are you safe right now?" in reply.text
    [logged] = [e for e in logs if e["event"] == "crisis.detected"]
    assert logged["log_level"] == "error" and logged["category"] == "suicide"
    assert "anymore" not in str(logged)  # the log names the pattern, never the words
    assert state(runtime) == ("onboarding", "ask_phone")  # the flow waits where it was
    [escalation] = escalations(runtime)
    assert (escalation.priority, escalation.reasons) == ("urgent", ["crisis"])
    consent = await ana.says("(415) 555-2671")
    assert "Do you agree" in consent[0].text


async def test_crisis_lines_follow_the_students_country(runtime: Runtime) -> None:
    ravi = add_student(runtime, "Ravi", eligible=False, locale="hi")
    runtime.db.run_sync(lambda s: s.execute(
        update(Person).where(Person.display_name == "Ravi").values(time_zone="Asia/Kolkata")))
    [reply] = await ravi.says("मैं मरना चाहता हूँ")
    assert "14416" in reply.text and "112" in reply.text and "988" not in reply.text


def test_entries_with_a_program_filter_and_a_link(runtime: Runtime) -> None:
    kb = runtime.engine._runner._knowledge  # type: ignore[attr-defined]
    entry = kb.entry("en", "certificate")
    assert entry is not None and entry.link and entry.link.startswith("https://")
    restricted = entry.model_copy(update={"programs": ("microbachelors-it",)})
    assert restricted.applies_to("microbachelors-it") and not restricted.applies_to("other")
    assert answer_text(runtime.translator.for_locale("en"), entry).endswith(entry.link)


async def test_answer_statistics_per_entry(runtime: Runtime) -> None:
    sam = await resting(runtime)
    await sam.says("i cant log in to my course")
    await sam.picks("kb_yes")
    await sam.says("i cant log in")
    await sam.says("whats the capital of peru")
    since = runtime.clock.now() - timedelta(days=7)
    stats = runtime.db.run_sync(lambda s: entry_stats(s, since))
    assert [(e.entry_id, e.answered, e.helpful, e.not_helpful) for e in stats] == [
        (None, 1, 0, 0), ("login_trouble", 2, 1, 0)]
