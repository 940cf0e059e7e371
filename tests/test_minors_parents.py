"""A linked parent decides, by SMS, whether their child under 13 gets study reminders; parents
of students of 13 and over are never asked. End to end over the Twilio emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from sqlalchemy import select

from bot.clock import FakeClock
from handlers.reminders import NUDGES_TEXT_VERSION
from storage.database import Database
from storage.events import record_events
from storage.guardians import (
    NotTheirChild,
    ensure_parent,
    link_guardian,
    record_for_child,
    wards_of,
)
from storage.tables import ConsentRecord, Delivery, Guardian, Person
from tests.conftest import START
from tests.sms_world import SmsWorld, sms_world
from tests.transcript import Chatter, add_student

pytestmark = pytest.mark.e2e
TUESDAY_NOON_NY = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)
MIAS_PARENT, PRIYAS_PARENT = "+12125550170", "+12125550171"


@pytest.fixture
async def world(sqlite_url: str) -> AsyncIterator[SmsWorld]:
    async with sms_world(sqlite_url, FakeClock(TUESDAY_NOON_NY)) as w:
        yield w


def person_id(world: SmsWorld, name: str) -> int:
    query = select(Person.id).where(Person.display_name == name)
    return world.db(lambda s: s.execute(query).scalar_one())


async def link(world: SmsWorld, phone: str, student_id: int) -> None:
    body = {"parent_phone": phone, "student": str(student_id), "time_zone": "America/New_York"}
    headers = {"Authorization": "Bearer test-api-token"}
    async with aiohttp.ClientSession() as http:
        url = f"{world.local_url}/api/v1/guardians"
        async with http.post(url, json=body, headers=headers) as response:
            assert response.status == 201, await response.text()


async def family(world: SmsWorld) -> tuple[Chatter, Chatter]:
    """Mia (12, web chat) and Priya (15, Telegram); Mia's parent is linked to both of them,
    Priya's other parent only to Priya."""
    mia = add_student(world.runtime, "Mia Chen", under_13=True, eligible=False)
    priya = add_student(world.runtime, "Priya Sharma", eligible=False, channel="telegram")
    for phone, names in ((MIAS_PARENT, ("Mia Chen", "Priya Sharma")),
                         (PRIYAS_PARENT, ("Priya Sharma",))):  # fmt: skip
        for name in names:
            await link(world, phone, person_id(world, name))
    return mia, priya


async def parent_says(world: SmsWorld, phone: str, text: str, expect_total: int) -> list[str]:
    await world.text(phone, text)
    await world.emu.wait_for(lambda: len(world.emu.messages_to(phone)) == expect_total)
    return world.bodies_to(phone)


def reminders_records(world: SmsWorld) -> list[tuple[object, ...]]:
    query = (
        select(ConsentRecord.person_id, ConsentRecord.decision, ConsentRecord.actor,
               ConsentRecord.channel, ConsentRecord.text_version)
        .where(ConsentRecord.purpose == "nudges")
        .order_by(ConsentRecord.id)
    )  # fmt: skip
    return [tuple(r) for r in world.db(lambda s: s.execute(query).all())]


def plan_test_results(world: SmsWorld, *student_ids: int) -> set[tuple[int, str]]:
    """A test result for each student, then the planner: who gets the results nudge, where."""
    now = world.clock.now()
    rows = [
        dict(event_id=f"t-{sid}", person_id=sid, type="test_completed", score=75.0, ref="t1",
             occurred_at=now - timedelta(minutes=30), payload={}, created_at=now)
        for sid in student_ids
    ]  # fmt: skip
    world.db(lambda s: record_events(s, rows))
    planner = world.runtime.nudges.planner  # type: ignore[union-attr]
    world.db(lambda s: planner.plan(s, now))
    query = select(Delivery.person_id, Delivery.channel).where(
        Delivery.kind == "nudge", Delivery.campaign_id == "test_result"
    )
    return {tuple(r) for r in world.db(lambda s: s.execute(query).all())}  # type: ignore[misc]


async def test_a_parent_allows_reminders_for_their_child_under_13(world: SmsWorld) -> None:
    mia, _priya = await family(world)
    mia_id, priya_id = person_id(world, "Mia Chen"), person_id(world, "Priya Sharma")
    first = await parent_says(world, MIAS_PARENT, "hello", 1)
    assert "weekly progress update" in first[0]  # their own question comes first
    bodies = await parent_says(world, MIAS_PARENT, "1", 3)
    question = bodies[2]
    assert "May Mia get study reminders" in question and "Priya" not in question
    assert question.endswith("Reply 1 for Yes, 2 for No")
    bodies = await parent_says(world, MIAS_PARENT, "1", 4)
    assert "Mia may get study reminders" in bodies[3]
    parent = world.db(lambda s: s.execute(select(Guardian.parent_id)).scalars().first())
    assert reminders_records(world) == [
        (mia_id, "granted", f"parent:{parent}", "sms", NUDGES_TEXT_VERSION)
    ]
    # Mia gets reminders in the web chat; Priya decides for herself and has not.
    assert plan_test_results(world, mia_id, priya_id) == {(mia_id, "webchat")}
    # Mia is never asked, and sees the reminders on in her settings.
    await mia.says("hi")
    menu = await mia.says("/settings")
    assert "Study reminders: on" in menu[0].text
    assert not any("study reminders?" in t for t in mia.texts())
    # Asked once: more texts from the parent do not ask again.
    bodies = await parent_says(world, MIAS_PARENT, "thanks", 5)
    assert "REMINDERS" in bodies[4] and "May Mia" not in bodies[4]


async def test_a_parent_of_a_student_13_or_over_is_not_asked(world: SmsWorld) -> None:
    await family(world)
    await parent_says(world, PRIYAS_PARENT, "hi", 1)
    bodies = await parent_says(world, PRIYAS_PARENT, "2", 2)
    assert "Reply YES if you change your mind" in bodies[1]
    bodies = await parent_says(world, PRIYAS_PARENT, "REMINDERS", 3)
    assert "study reminders" not in bodies[2].lower()  # no child of theirs to decide for
    assert reminders_records(world) == []


async def test_reminders_lets_a_parent_change_their_answer(world: SmsWorld) -> None:
    await family(world)
    mia_id = person_id(world, "Mia Chen")
    await parent_says(world, MIAS_PARENT, "hi", 1)
    bodies = await parent_says(world, MIAS_PARENT, "2", 3)
    # No "Reply YES" before the child's question: a YES would seem to answer both.
    assert bodies[1] == "Got it, no progress texts."
    await parent_says(world, MIAS_PARENT, "1", 4)
    again = await parent_says(world, MIAS_PARENT, "reminders", 5)
    assert "May Mia get study reminders" in again[4]
    done = await parent_says(world, MIAS_PARENT, "2", 6)
    assert "no study reminders for Mia" in done[5]
    assert [(pid, d) for pid, d, *_rest in reminders_records(world)] == [
        (mia_id, "granted"), (mia_id, "withdrawn")]  # fmt: skip
    assert plan_test_results(world, mia_id) == set()


async def test_an_unclear_answer_asks_again(world: SmsWorld) -> None:
    await family(world)
    await parent_says(world, MIAS_PARENT, "hi", 1)
    await parent_says(world, MIAS_PARENT, "1", 3)
    bodies = await parent_says(world, MIAS_PARENT, "banana", 4)
    assert bodies[3] == "Please answer Yes or No."
    bodies = await parent_says(world, MIAS_PARENT, "yes", 5)
    assert "Mia may get study reminders" in bodies[4]


# -- The storage rule behind it, on SQLite and PostgreSQL ---------------------------------------


def test_only_a_linked_parent_decides_and_only_for_a_child_under_13(db: Database) -> None:
    def setup(session: object) -> tuple[int, int, int, int]:
        mia = Person(role="student", display_name="Mia", under_13=True, created_at=START)
        priya = Person(role="student", display_name="Priya", created_at=START)
        session.add_all([mia, priya])  # type: ignore[attr-defined]
        session.flush()  # type: ignore[attr-defined]
        parent = ensure_parent(session, phone=MIAS_PARENT, name=None, locale="en",  # type: ignore[arg-type]
                               time_zone=None, now=START)  # fmt: skip
        stranger = ensure_parent(session, phone=PRIYAS_PARENT, name=None, locale="en",  # type: ignore[arg-type]
                                 time_zone=None, now=START)  # fmt: skip
        link_guardian(session, parent, mia, 0, START)  # type: ignore[arg-type]
        link_guardian(session, parent, priya, 0, START)  # type: ignore[arg-type]
        return mia.id or 0, priya.id or 0, parent.id or 0, stranger.id or 0

    mia, priya, parent, stranger = db.run_sync(setup)
    assert [(w.id, w.nudges) for w in db.run_sync(lambda s: wards_of(s, parent))] == [(mia, None)]
    assert db.run_sync(lambda s: wards_of(s, stranger)) == ()

    def decide(parent_id: int, child_id: int) -> object:
        return db.run_sync(lambda s: record_for_child(
            s, parent_id=parent_id, child_id=child_id, purpose="nudges", decision="granted",
            channel="sms", text_version=NUDGES_TEXT_VERSION, locale="en",
            source_message_id=None, now=START))  # fmt: skip

    with pytest.raises(NotTheirChild):
        decide(stranger, mia)  # not linked
    with pytest.raises(NotTheirChild):
        decide(parent, priya)  # linked, but Priya decides for herself
    decide(parent, mia)
    [ward] = db.run_sync(lambda s: wards_of(s, parent))
    assert ward.nudges == "granted"
    stored = db.run_sync(lambda s: s.execute(select(ConsentRecord)).scalars().one())
    assert (stored.person_id, stored.actor, stored.phone_e164) == (mia, f"parent:{parent}", None)


async def test_the_demo_parent_decides_for_mia_in_the_web_chat(sqlite_url: str) -> None:
    from bot.app import build_runtime
    from storage.demo import seed_demo
    from storage.people import link_identity
    from tests.conftest import make_settings

    runtime = build_runtime(make_settings(sqlite_url), clock=FakeClock(START))
    runtime.db.run_sync(lambda s: seed_demo(s, START))
    wei = runtime.db.run_sync(
        lambda s: s.execute(select(Person.id).where(Person.lms_id == "demo-wei")).scalar_one()
    )
    runtime.db.run_sync(lambda s: link_identity(s, wei, "webchat", "wei-tab", START))
    chatter = Chatter(runtime, "webchat", "wei-tab")
    await chatter.says("hi")
    asked = await chatter.picks("yes")
    assert "May Mia get study reminders" in asked[-1].text
    await chatter.picks("yes")
    mia = runtime.db.run_sync(
        lambda s: s.execute(select(Person.id).where(Person.lms_id == "demo-mia")).scalar_one()
    )
    [record] = runtime.db.run_sync(lambda s: s.execute(select(ConsentRecord).where(
        ConsentRecord.purpose == "nudges")).scalars().all())  # fmt: skip
    assert (record.person_id, record.actor) == (mia, f"parent:{wei}")
    runtime.db.close()
