"""Study reminders (the `nudges` consent purpose) for students not offered coaching: asked once
on first contact, shown and changed in /settings, and obeyed by the planner and the policy."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.app import Runtime, build_runtime
from bot.channels.sms_render import render_sms
from bot.clock import FakeClock
from bot.messages import Choice, Reply
from handlers.reminders import NUDGES_TEXT_VERSION
from scheduler.policy import Decision, DeliveryFacts, SendPolicy
from storage.tables import ConsentRecord, KnowledgeAnswer, Person
from tests.conftest import START, make_settings
from tests.fakes import RecordingSender
from tests.nudge_world import add_event, deliveries
from tests.nudge_world import add_student as add_cohort_student
from tests.transcript import Chatter, add_student

QUESTION = "May we send you study reminders?"


@pytest.fixture
def runtime(sqlite_url: str, clock: FakeClock) -> Iterator[Runtime]:
    rt = build_runtime(make_settings(sqlite_url), clock=clock)
    yield rt
    rt.db.close()


def records(runtime: Runtime) -> list[ConsentRecord]:
    query = select(ConsentRecord).order_by(ConsentRecord.id)
    return runtime.db.run_sync(lambda s: list(s.execute(query).scalars()))


def asked(chatter: Chatter) -> int:
    return sum(QUESTION in t for t in chatter.texts())


@pytest.mark.parametrize("channel", ["telegram", "webchat"])
async def test_a_student_not_offered_coaching_is_asked_once_on_first_contact(
    runtime: Runtime, channel: str
) -> None:
    sam = add_student(runtime, "Sam", channel=channel, eligible=False)
    hello, question = await sam.says("/start")
    assert "I'm your mentor bot" in hello.text and not hello.choices  # one question at a time
    assert QUESTION in question.text and [c.id for c in question.choices] == ["yes", "no"]
    assert "Msg & data rates" not in question.text  # said on SMS only
    done = await sam.picks("yes")
    assert "we'll send you study reminders" in done[0].text
    for later in ("hi", "/start", "thanks", "i cant log in to my course"):
        await sam.says(later)
    assert asked(sam) == 1
    [record] = records(runtime)
    assert (record.purpose, record.decision, record.actor) == ("nudges", "granted", "self")
    assert (record.channel, record.text_version) == (channel, NUDGES_TEXT_VERSION)


async def test_a_first_question_is_answered_then_the_reminders_question_follows(
    runtime: Runtime,
) -> None:
    sam = add_student(runtime, "Sam", eligible=False)
    answer, question = await sam.says("i cant log in to my course")
    assert "Did this help?" not in answer.text and not answer.choices
    assert QUESTION in question.text
    stored = runtime.db.run_sync(lambda s: s.execute(select(KnowledgeAnswer.entry_id)).all())
    assert [tuple(r) for r in stored] == [("login_trouble",)]
    [digression, again] = await sam.says("where is the recording of yesterdays class")
    assert "recording" in digression.text.lower() and QUESTION in again.text  # still pending
    unclear = await sam.says("maybe later")
    assert "Please answer Yes or No" in unclear[0].text
    declined = await sam.picks("no")
    assert "no study reminders" in declined[0].text
    assert [(r.purpose, r.decision) for r in records(runtime)] == [("nudges", "declined")]


async def test_a_question_left_unanswered_is_not_put_again(runtime: Runtime) -> None:
    sam = add_student(runtime, "Sam", eligible=False)
    await sam.says("hi")
    await sam.says("/settings")  # walks away from the question
    await sam.picks("done")
    for later in ("hi", "/start", "thanks"):
        await sam.says(later)
    assert asked(sam) == 1 and records(runtime) == []


async def test_a_first_contact_by_command_is_asked_at_the_next_message(
    runtime: Runtime,
) -> None:
    sam = add_student(runtime, "Sam", eligible=False)
    await sam.says("/settings")
    await sam.picks("done")
    assert asked(sam) == 0
    replies = await sam.says("hello")
    assert QUESTION in replies[-1].text
    await sam.picks("yes")
    await sam.says("hello")
    assert asked(sam) == 1


async def test_coaching_decline_with_a_us_number_is_not_a_reminders_question(
    runtime: Runtime,
) -> None:
    ana = add_student(runtime, "Ana")
    await ana.says("hi")
    await ana.says("415 555 2671")
    await ana.picks("no")
    for later in ("hi", "thanks"):
        await ana.says(later)
    assert asked(ana) == 0  # offered coaching and said no: their decision covers reminders


async def test_a_foreign_number_leads_to_the_reminders_question_once(runtime: Runtime) -> None:
    olga = add_student(runtime, "Olga", channel="telegram")
    await olga.says("/start")
    await olga.says("+44 7911 123456")
    declined = await olga.picks("decline")
    assert "won't be asked again" in declined[0].text and QUESTION in declined[-1].text
    await olga.picks("yes")
    await olga.says("/coaching")  # coaching on her own request: asked again, reminders not
    await olga.picks("decline")
    assert asked(olga) == 1
    decisions = [(r.purpose, r.decision) for r in records(runtime)]
    assert decisions == [("coaching", "declined"), ("nudges", "granted"), ("coaching", "declined")]


async def test_settings_show_and_change_the_reminders(runtime: Runtime) -> None:
    sam = add_student(runtime, "Sam", eligible=False)
    await sam.says("hi")
    await sam.picks("no")
    menu = await sam.says("/settings")
    assert "Study reminders: off" in menu[0].text
    on = await sam.picks("Turn reminders on")
    assert "we'll send you study reminders" in on[0].text and "Study reminders: on" in on[-1].text
    off = await sam.picks("Turn reminders off")
    assert "no study reminders" in off[0].text and "Study reminders: off" in off[-1].text
    decisions = [(r.decision, r.text_version) for r in records(runtime)]
    assert decisions == [
        ("declined", NUDGES_TEXT_VERSION),
        ("granted", NUDGES_TEXT_VERSION),
        ("withdrawn", NUDGES_TEXT_VERSION),
    ]


async def test_coaching_covers_reminders_until_they_are_turned_off(runtime: Runtime) -> None:
    ana = add_student(runtime, "Ana")
    await ana.says("hi")
    await ana.says("415 555 2671")
    await ana.picks("yes")
    menu = await ana.says("/settings")
    assert "Coaching texts: on" in menu[0].text and "Study reminders: on" in menu[0].text
    off = await ana.picks("Turn reminders off")
    assert "Coaching texts: on" in off[-1].text and "Study reminders: off" in off[-1].text
    assert [(r.purpose, r.decision) for r in records(runtime)] == [
        ("coaching", "granted"),
        ("nudges", "withdrawn"),
    ]


async def test_staff_are_not_asked(runtime: Runtime) -> None:
    dana = add_student(runtime, "Dana", eligible=False)
    runtime.db.run_sync(
        lambda s: s.execute(
            update(Person).where(Person.display_name == "Dana").values(role="mentor")
        )
    )
    await dana.says("/help")
    await dana.says("hello")
    assert asked(dana) == 0


def test_a_long_sms_menu_keeps_its_choices() -> None:
    """A body that fits three segments alone, but not with the numbered choices, is cut (with
    the link to the whole text) rather than losing the choices nobody could answer without."""
    from bot.i18n import Translator
    from bot.settings import SUPPORTED_LOCALES, Settings

    t = Translator(Settings(_env_file=None).locales_dir, SUPPORTED_LOCALES).for_locale("en")  # type: ignore[call-arg]
    body = "Your settings:\n" + "\n".join(f"Line {i}: •" for i in range(11))
    reply = Reply(body, tuple(Choice(str(i), f"Choice number {i}") for i in range(6)))
    sms = render_sms(reply, t, full_text_link="https://x.example/m/1")
    assert sms.segments <= 3 and sms.body.endswith("6 for Choice number 5")
    assert "https://x.example/m/1" in sms.body


# -- The planner and the send-time policy ------------------------------------------------------


@pytest.fixture
def planning(database_url: str) -> Iterator[Runtime]:
    senders = {"telegram": RecordingSender("telegram")}
    rt = build_runtime(make_settings(database_url), clock=FakeClock(START), senders=senders)
    yield rt
    rt.db.close()


def decide(runtime: Runtime, person_id: int, *decisions: tuple[str, str]) -> None:
    def write(session: object) -> None:
        for purpose, decision in decisions:
            session.add(  # type: ignore[attr-defined]
                ConsentRecord(
                    person_id=person_id,
                    purpose=purpose,
                    decision=decision,
                    actor="self",
                    created_at=START,
                )
            )

    runtime.db.run_sync(write)


def test_the_planner_follows_the_latest_reminders_decision(planning: Runtime) -> None:
    runtime = planning
    kinds = ("telegram",)
    granted = add_cohort_student(runtime, "Lucia", zone="Europe/Madrid", channels=kinds,
                                 consent=None)  # fmt: skip
    declined = add_cohort_student(runtime, "Jonas", zone="Europe/Berlin", channels=kinds,
                                  consent=None)  # fmt: skip
    withdrawn = add_cohort_student(runtime, "Ana", channels=kinds)  # coaching granted
    undecided = add_cohort_student(runtime, "Eve", channels=kinds, consent=None)
    coached = add_cohort_student(runtime, "Ravi", channels=kinds)  # coaching covers nudges
    decide(runtime, granted.id, ("nudges", "granted"))
    decide(runtime, declined.id, ("nudges", "declined"))
    decide(runtime, withdrawn.id, ("nudges", "withdrawn"))
    for student in (granted, declined, withdrawn, undecided, coached):
        add_event(runtime, student, "test_completed", START - timedelta(minutes=30),
                  ref="t1", score=80)  # fmt: skip
    planner = runtime.nudges.planner  # type: ignore[union-attr]
    runtime.db.run_sync(lambda s: planner.plan(s, START))
    planned = {d.person_id for d in deliveries(runtime) if d.campaign_id == "test_result"}
    assert planned == {granted.id, coached.id}


@pytest.mark.parametrize(
    "consent,decision",
    [
        ({"nudges": "granted"}, Decision.SEND),  # reminders without coaching
        ({"coaching": "granted"}, Decision.SEND),  # coaching covers reminders
        ({"coaching": "granted", "nudges": "withdrawn"}, Decision.SUPPRESS),  # latest wins
        ({"nudges": "declined"}, Decision.SUPPRESS),
        ({}, Decision.SUPPRESS),
    ],
)
def test_the_send_time_policy_follows_the_reminders_decision(
    consent: dict[str, str], decision: Decision
) -> None:
    facts = DeliveryFacts(
        kind="nudge", channel="telegram", address="42", purpose="nudges",
        time_zone="Europe/Madrid", consent=consent,
    )  # fmt: skip
    noon_madrid = START.replace(hour=11)
    assert SendPolicy().verdict(facts, noon_madrid).decision is decision
