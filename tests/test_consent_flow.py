"""The coaching-consent workflow, as transcripts through the real engine on SQLite."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from bot.app import Runtime, build_runtime
from bot.clock import FakeClock
from storage.tables import ConsentRecord, Identity, Person
from tests.conftest import make_settings
from tests.transcript import Chatter, add_student


@pytest.fixture
def runtime(sqlite_url: str, clock: FakeClock) -> Iterator[Runtime]:
    rt = build_runtime(make_settings(sqlite_url), clock=clock)
    yield rt
    rt.db.close()


def consents(runtime: Runtime) -> list[ConsentRecord]:
    return runtime.db.run_sync(
        lambda s: list(s.execute(select(ConsentRecord).order_by(ConsentRecord.id)).scalars())
    )


def asked_for_phone(chatter: Chatter) -> int:
    return sum(1 for r in chatter.heard if r.request_phone)


async def test_eligible_student_consents_with_a_us_number(runtime: Runtime) -> None:
    ana = add_student(runtime, "Ana")
    first = await ana.says("hi")
    assert "free personal coach" in first[0].text and "resume" in first[0].text
    assert first[-1].request_phone
    reply = await ana.says("(415) 555-2671")
    assert "Do you agree" in reply[0].text and "2671" in reply[0].text
    assert {c.id for c in reply[0].choices} >= {"yes", "no"}
    done = await ana.picks("yes")
    assert "signed up for coaching" in done[0].text
    [record] = consents(runtime)
    assert (record.purpose, record.decision, record.phone_e164) == (
        "coaching",
        "granted",
        "+14155552671",
    )
    assert record.text_version == runtime.settings.consent.text_version
    assert record.locale == "en" and record.channel == "webchat" and record.source_message_id


async def test_contact_share_counts_as_the_phone(runtime: Runtime) -> None:
    ana = add_student(runtime, "Ana", channel="telegram")
    await ana.says("/start")
    reply = await ana.says(contact="+1 212 555 0199")
    assert "Do you agree" in reply[0].text


async def test_non_us_number_is_stored_but_cannot_consent(runtime: Runtime) -> None:
    olga = add_student(runtime, "Olga")
    await olga.says("hi")
    reply = await olga.says("+44 7911 123456")
    assert "only text US phone numbers" in reply[0].text
    assert [c.id for c in reply[0].choices] == ["other", "decline"]
    phone = runtime.db.run_sync(
        lambda s: s.execute(
            select(Person.phone_e164).where(Person.display_name == "Olga")
        ).scalar()
    )
    assert phone == "+447911123456"
    assert consents(runtime) == []
    again = await olga.picks("other")
    assert again[0].request_phone
    await olga.says("+1 415 555 2671")
    await olga.picks("yes")
    assert [r.decision for r in consents(runtime)] == ["granted"]


@pytest.mark.parametrize("raw", ["+1 416 555 0123", "+1 787 555 1234", "+7 912 345 67 89"])
async def test_canada_puerto_rico_and_russia_are_not_us(runtime: Runtime, raw: str) -> None:
    student = add_student(runtime, "Kim")
    await student.says("hi")
    reply = await student.says(raw)
    assert "only text US phone numbers" in reply[0].text


@pytest.mark.parametrize(
    "raw,hint",
    [
        ("+1 206 555 0100 ext. 12", "without an extension"),
        ("+1 800 555 1212", "toll-free"),
        ("555-1234", "area code"),
        ("call me maybe", "area code"),
    ],
)
async def test_unusable_numbers_get_a_clear_answer(runtime: Runtime, raw: str, hint: str) -> None:
    student = add_student(runtime, "Lee")
    await student.says("hi")
    reply = await student.says(raw)
    assert hint in reply[0].text
    assert consents(runtime) == []


async def test_declining_is_recorded_and_never_asked_again(runtime: Runtime) -> None:
    ana = add_student(runtime, "Ana")
    await ana.says("hi")
    await ana.picks("decline")
    await ana.says("hello again")
    await ana.says("/start")
    assert asked_for_phone(ana) == 1
    assert [r.decision for r in consents(runtime)] == ["declined"]


async def test_answered_consent_is_never_asked_again(runtime: Runtime) -> None:
    ana = add_student(runtime, "Ana")
    await ana.says("hi")
    await ana.says("415 555 2671")
    await ana.picks("no")
    for text in ("hi", "/start", "what now?"):
        await ana.says(text)
    assert asked_for_phone(ana) == 1
    assert all("Do you agree" not in t for t in ana.texts()[4:])


async def test_ineligible_and_under_13_are_never_asked(runtime: Runtime) -> None:
    sam = add_student(runtime, "Sam", eligible=False)
    mia = add_student(runtime, "Mia", under_13=True)
    for chatter in (sam, mia):
        await chatter.says("hi")
        await chatter.says("/start")
        await chatter.says("/settings")
        assert asked_for_phone(chatter) == 0
        assert all("coach" not in r.text.lower() or "/settings" in r.text for r in chatter.heard)
    await mia.says("/coaching")
    assert asked_for_phone(mia) == 0
    assert consents(runtime) == []
    # Not offered coaching, Sam is asked about study reminders once; Mia is under 13: never
    # asked (her parent decides), and her settings offer no phone.
    reminders = "May we send you study reminders"
    assert sum(reminders in t for t in sam.texts()) == 1
    assert not any(reminders in t or "Phone:" in t for t in mia.texts())


async def test_settings_toggle_phone_and_language(runtime: Runtime) -> None:
    ana = add_student(runtime, "Ana")
    await ana.says("hi")
    await ana.says("415 555 2671")
    await ana.picks("yes")
    menu = await ana.says("/settings")
    assert "Coaching texts: on" in menu[0].text
    off = await ana.picks("toggle")
    assert "Coaching texts: off" in off[-1].text
    await ana.picks("phone")
    await ana.says("+1 646 555 0101")
    on = await ana.picks("toggle")
    assert "0101" in on[0].text
    await ana.picks("language")
    spanish = await ana.picks("es")
    assert "Tu configuración" in spanish[-1].text
    decisions = [(r.decision, r.phone_e164) for r in consents(runtime)]
    assert decisions == [
        ("granted", "+14155552671"),
        ("withdrawn", "+14155552671"),
        ("granted", "+16465550101"),
    ]


async def test_changing_to_a_foreign_phone_withdraws_consent(runtime: Runtime) -> None:
    ana = add_student(runtime, "Ana")
    await ana.says("hi")
    await ana.says("415 555 2671")
    await ana.picks("yes")
    await ana.says("settings")
    await ana.picks("phone")
    reply = await ana.says("+44 7911 123456")
    assert "need a US number" in reply[0].text
    assert [r.decision for r in consents(runtime)] == ["granted", "withdrawn"]


async def test_phone_on_one_channel_links_the_sms_identity(runtime: Runtime) -> None:
    ana = add_student(runtime, "Ana", channel="telegram")
    await ana.says("hi")
    await ana.says("415 555 2671")
    owner = runtime.db.run_sync(
        lambda s: s.execute(
            select(Identity.person_id).where(
                Identity.channel == "sms", Identity.address == "+14155552671"
            )
        ).scalar()
    )
    telegram_owner = runtime.db.run_sync(
        lambda s: s.execute(
            select(Identity.person_id).where(Identity.channel == "telegram")
        ).scalar()
    )
    assert owner == telegram_owner


async def test_mydata_and_forgetme(runtime: Runtime) -> None:
    ana = add_student(runtime, "Ana")
    await ana.says("hi")
    await ana.says("415 555 2671")
    await ana.picks("yes")
    data = await ana.says("/mydata")
    assert "Ana" in data[0].text and "coaching by text, agreed" in data[0].text
    assert "4 messages from you" in data[0].text
    file = data[0].attachment
    assert file is not None and file.name == "mydata.json"
    held = json.loads(file.data)
    assert held["profile"]["display_name"] == "Ana"
    assert [m["text"] for m in held["messages"]] == ["hi", "415 555 2671", "Yes", "/mydata"]
    assert [(c["purpose"], c["decision"]) for c in held["consents"]] == [("coaching", "granted")]
    confirm = await ana.says("/forgetme")
    assert {c.id for c in confirm[0].choices} == {"yes", "no"}
    bye = await ana.picks("yes")
    assert "erased" in bye[0].text
    [record] = consents(runtime)
    assert record.person_id is None and record.phone_e164 is None and record.locale is None
    assert record.phone_hash and record.purpose == "coaching" and record.decision == "granted"
    person = runtime.db.run_sync(lambda s: s.execute(select(Person)).scalars().one())
    assert person.display_name is None and person.phone_e164 is None and person.erased_at


async def test_forgetme_can_be_cancelled(runtime: Runtime) -> None:
    ana = add_student(runtime, "Ana")
    await ana.says("hi")
    await ana.says("/forgetme")
    kept = await ana.picks("no")
    assert "Nothing was erased" in kept[0].text


async def test_translated_workflow_in_russian(runtime: Runtime) -> None:
    olga = add_student(runtime, "Olga", locale="ru")
    first = await olga.says("привет")
    assert "коуч" in first[0].text
    await olga.says("+1 415 555 2671")
    done = await olga.says("да")
    assert "записан на коучинг" in done[0].text
