"""Human mentors through the real engine (web chat addresses, SQLite): raise, offer, take, relay
both ways, pass, release, resolve, notes, idle return, missed targets, invitations."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot import desk_timers
from bot.app import Runtime, build_runtime
from bot.clock import FakeClock
from bot.messages import Inbound
from storage import mentors as mentor_store
from storage.tables import Conversation, Delivery, Escalation, Person
from tests.conftest import make_settings
from tests.transcript import Chatter, add_student

ADMIN_CHAT = 4242


@pytest.fixture
def runtime(sqlite_url: str, clock: FakeClock) -> Iterator[Runtime]:
    rt = build_runtime(make_settings(sqlite_url, admin_telegram_ids=[ADMIN_CHAT]), clock=clock)
    yield rt
    rt.db.close()


def add_mentor(runtime: Runtime, name: str, *, languages: list[str], available: bool = True,
               own_students: bool = False) -> Chatter:  # fmt: skip
    chatter = add_student(runtime, name, eligible=False)
    now = runtime.clock.now()

    def promote(session: object) -> None:
        person = session.execute(  # type: ignore[attr-defined]
            select(Person).where(Person.display_name == name)).scalars().one()
        person.role = "mentor"
        mentor_store.ensure_profile(session, person.id, now, languages=languages,  # type: ignore[arg-type]
                                    work_start="00:00", work_end="23:59",
                                    work_days=list(range(7)), available=available)
        if own_students:
            for student in session.execute(  # type: ignore[attr-defined]
                    select(Person).where(Person.role == "student")).scalars():
                student.mentor_id = person.id

    runtime.db.run_sync(promote)
    return chatter


def rows(runtime: Runtime, model: type, *where: object) -> list:
    query = select(model).where(*where).order_by(model.id if hasattr(model, "id") else None)
    return runtime.db.run_sync(lambda s: list(s.execute(query).scalars()))


def inbox(runtime: Runtime, chatter: Chatter) -> list[Delivery]:
    """What the desk sent to this person (cards, relays, notices), oldest first."""
    return rows(runtime, Delivery, Delivery.address == chatter.address,
                Delivery.kind.in_(("staff", "relay")))


async def student_asks_for_a_mentor(runtime: Runtime) -> tuple[Chatter, Escalation]:
    sam = add_student(runtime, "Sam Lee", eligible=False)
    await sam.says("hi")
    await sam.picks("no")  # the study reminders question of a first contact
    replies = await sam.says("/mentor")
    assert "request #" in replies[0].text and "A mentor will reply here by" in replies[0].text
    [escalation] = rows(runtime, Escalation)
    return sam, escalation


async def test_offer_take_relay_and_release(runtime: Runtime) -> None:
    dana = add_mentor(runtime, "Dana Brooks", languages=["en"])
    sam, escalation = await student_asks_for_a_mentor(runtime)
    [card] = inbox(runtime, dana)
    assert f"Request #{escalation.id}" in card.text and "Sam Lee" in card.text
    assert [c["id"] for c in card.choices] == [f"take:{escalation.id}", f"pass:{escalation.id}"]
    taken = await dana.says("Take", choice=f"take:{escalation.id}")
    assert "You have taken request" in taken[0].text
    assert "Dana (mentor) has joined" in inbox(runtime, sam)[-1].text
    silent = await sam.says("i cant log in to my course")
    assert silent == []  # the bot says nothing while a mentor holds the conversation
    assert inbox(runtime, dana)[-1].text.endswith("i cant log in to my course")
    assert await dana.says("Try resetting your password from the login page") == []
    assert inbox(runtime, sam)[-1].text == (
        "Dana (mentor): Try resetting your password from the login page")
    released = await dana.says("/release")
    assert "closed" in released[0].text
    assert "handed the conversation back to me" in inbox(runtime, sam)[-1].text
    back = await sam.says("where is the recording of the class")
    assert back[-1].text == "Did this help?"  # the bot answers again
    [row] = rows(runtime, Escalation)
    assert (row.status, row.mentor_id is not None, row.first_response_at is not None) == (
        "released", True, True)


async def test_a_student_typing_mentor_commands_changes_nothing(runtime: Runtime) -> None:
    add_mentor(runtime, "Dana Brooks", languages=["en"])
    sam, escalation = await student_asks_for_a_mentor(runtime)
    for command in (f"/take {escalation.id}", "/queue", "/release", "/resolve done"):
        [reply] = await sam.says(command)
        assert reply.text == "That command is for mentors."
    [row] = rows(runtime, Escalation)
    assert (row.status, row.mentor_id) == ("offered", None)


async def test_own_mentor_first_then_language_then_load(runtime: Runtime) -> None:
    add_mentor(runtime, "Ivan Petrov", languages=["ru"])
    lucia = add_mentor(runtime, "Lucia Diaz", languages=["es", "en"])
    _sam, escalation = await student_asks_for_a_mentor(runtime)
    assert len(inbox(runtime, lucia)) == 1  # speaks English; Ivan does not
    passed = await lucia.says("Pass", choice=f"pass:{escalation.id}")
    assert "goes to someone else" in passed[0].text
    [row] = rows(runtime, Escalation)
    assert len(row.offered_to) == 2  # then Ivan, the only one left


async def test_crisis_is_offered_to_every_available_mentor_at_once(runtime: Runtime) -> None:
    ivan = add_mentor(runtime, "Ivan Petrov", languages=["ru"])
    lucia = add_mentor(runtime, "Lucia Diaz", languages=["es"])
    away = add_mentor(runtime, "Away Mentor", languages=["en"], available=False)
    sam = add_student(runtime, "Sam Lee", eligible=False)
    await sam.says("i want to kill myself")
    [row] = rows(runtime, Escalation)
    assert (row.priority, row.tags) == ("urgent", ["suicide"])
    assert len(inbox(runtime, ivan)) == len(inbox(runtime, lucia)) == 1
    assert inbox(runtime, away) == []
    assert row.due_at == runtime.clock.now() + timedelta(minutes=15)


async def test_crisis_without_any_mentor_goes_to_the_admins(runtime: Runtime) -> None:
    sam = add_student(runtime, "Sam Lee", eligible=False)
    await sam.says("i want to kill myself")
    admin = rows(runtime, Delivery, Delivery.address == str(ADMIN_CHAT))
    assert [(d.channel, d.kind) for d in admin] == [("telegram", "staff")]
    assert "URGENT" in admin[0].text


async def test_two_mentors_pressing_take_one_wins(runtime: Runtime) -> None:
    dana = add_mentor(runtime, "Dana Brooks", languages=["en"])
    lee = add_mentor(runtime, "Lee Park", languages=["en"])
    sam = add_student(runtime, "Sam Lee", eligible=False)
    await sam.says("i want to kill myself")  # urgent: offered to both
    [row] = rows(runtime, Escalation)
    first = await dana.says("Take", choice=f"take:{row.id}")
    second = await lee.says("Take", choice=f"take:{row.id}")
    assert "You have taken" in first[0].text
    assert "already taken by Dana Brooks" in second[0].text


async def test_resolve_with_a_tag_and_a_note_on_the_next_card(runtime: Runtime) -> None:
    dana = add_mentor(runtime, "Dana Brooks", languages=["en"])
    sam, escalation = await student_asks_for_a_mentor(runtime)
    await dana.says(f"/take {escalation.id}")
    saved = await dana.says("/note prefers evening calls")
    assert "Note saved" in saved[0].text
    await dana.says("/resolve login")
    [row] = rows(runtime, Escalation)
    assert (row.status, row.resolution) == ("resolved", "login")
    await sam.says("/mentor")
    assert "prefers evening calls" in inbox(runtime, dana)[-1].text


async def test_queue_mine_available(runtime: Runtime) -> None:
    dana = add_mentor(runtime, "Dana Brooks", languages=["en"])
    _sam, escalation = await student_asks_for_a_mentor(runtime)
    queue = await dana.says("/queue")
    assert f"#{escalation.id}" in queue[0].text and "Sam Lee" in queue[0].text
    await dana.says(f"/take {escalation.id}")
    mine = await dana.says("/mine")
    assert f"#{escalation.id} Sam Lee" in mine[0].text
    assert "No requests are waiting" in (await dana.says("/queue"))[0].text
    away = await dana.says("/available off")
    assert "away" in away[0].text
    assert "Usage" in (await dana.says("/available maybe"))[0].text


async def test_an_idle_hold_returns_to_the_bot(runtime: Runtime, clock: FakeClock) -> None:
    dana = add_mentor(runtime, "Dana Brooks", languages=["en"])
    sam, escalation = await student_asks_for_a_mentor(runtime)
    await dana.says(f"/take {escalation.id}")
    clock.advance(timedelta(hours=23))
    assert runtime.db.run_sync(lambda s: desk_timers.tick(_desk(runtime), s, clock.now())) == 0
    clock.advance(timedelta(hours=2))
    assert runtime.db.run_sync(lambda s: desk_timers.tick(_desk(runtime), s, clock.now())) == 1
    [row] = rows(runtime, Escalation)
    assert (row.status, row.resolution) == ("released", "idle")
    assert "ended after a quiet while" in inbox(runtime, sam)[-1].text
    assert "went back to the bot" in inbox(runtime, dana)[-1].text
    modes = rows(runtime, Conversation, Conversation.person_id == row.person_id)
    assert modes[0].mode == "bot"


async def test_a_missed_target_reoffers_then_alerts_the_admins(
    runtime: Runtime, clock: FakeClock
) -> None:
    add_mentor(runtime, "Dana Brooks", languages=["en"])
    lee = add_mentor(runtime, "Lee Park", languages=["es"])
    _sam, escalation = await student_asks_for_a_mentor(runtime)
    assert inbox(runtime, lee) == []  # Dana speaks English: she is asked first
    clock.advance(timedelta(hours=4, minutes=1))
    runtime.db.run_sync(lambda s: desk_timers.tick(_desk(runtime), s, clock.now()))
    assert len(inbox(runtime, lee)) == 1  # the whole pool
    assert rows(runtime, Delivery, Delivery.address == str(ADMIN_CHAT)) == []
    clock.advance(timedelta(hours=4, minutes=1))
    runtime.db.run_sync(lambda s: desk_timers.tick(_desk(runtime), s, clock.now()))
    [alert] = rows(runtime, Delivery, Delivery.address == str(ADMIN_CHAT))
    assert f"Request #{escalation.id}" in alert.text
    [row] = rows(runtime, Escalation)
    assert row.breaches == 2


async def test_nudges_are_held_while_a_mentor_holds_the_student(runtime: Runtime) -> None:
    dana = add_mentor(runtime, "Dana Brooks", languages=["en"])
    _sam, escalation = await student_asks_for_a_mentor(runtime)
    await dana.says(f"/take {escalation.id}")
    facts = runtime.db.run_sync(lambda s: _nudge_facts(s, escalation.person_id))
    assert facts.mentor_holds
    await dana.says("/release")
    facts = runtime.db.run_sync(lambda s: _nudge_facts(s, escalation.person_id))
    assert not facts.mentor_holds


async def test_an_invitation_makes_a_mentor_once(runtime: Runtime) -> None:
    now = runtime.clock.now()
    token = runtime.db.run_sync(lambda s: mentor_store.create_invitation(
        s, "mentor", "Nora Quinn", None, now, timedelta(days=7)))
    nora = add_student(runtime, "Visitor", eligible=False)
    welcome = await _opens(runtime, nora, token)
    assert "Welcome, Nora Quinn" in welcome[0].text and "/queue" in welcome[1].text
    [person] = rows(runtime, Person, Person.display_name == "Nora Quinn")
    assert person.role == "mentor"
    other = add_student(runtime, "Someone", eligible=False)
    refused = await _opens(runtime, other, token)
    assert "not valid" in refused[0].text
    assert rows(runtime, Person, Person.display_name == "Someone")[0].role == "student"


async def test_an_expired_invitation_is_refused(runtime: Runtime, clock: FakeClock) -> None:
    token = runtime.db.run_sync(lambda s: mentor_store.create_invitation(
        s, "mentor", "Late Larry", None, clock.now(), timedelta(days=7)))
    clock.advance(timedelta(days=8))
    late = add_student(runtime, "Larry", eligible=False)
    assert "not valid" in (await _opens(runtime, late, token))[0].text


async def _opens(runtime: Runtime, chatter: Chatter, token: str) -> list:
    inbound = Inbound(chatter.channel, chatter.address, f"open-{token[-6:]}-{chatter.address}",
                      f"/start {token}", link_token=token)
    handled = await runtime.engine.handle(inbound)
    return [o.reply for o in handled.outbound if o.address == chatter.address]


def _desk(runtime: Runtime) -> object:
    return runtime.extras["desk"]


def _nudge_facts(session: object, person_id: int) -> object:
    from storage.claims import facts_for

    row = Delivery(id=-1, person_id=person_id, channel="webchat", address="x", kind="nudge",
                   text="hi", created_at=None, updated_at=None, due_at=None)  # type: ignore[arg-type]
    return facts_for(session, [row])[-1]  # type: ignore[arg-type]


def sam_id(runtime: Runtime) -> int | None:
    """The erased student's row stays (blanked): deliveries to them keep its id."""
    return runtime.db.run_sync(lambda s: s.execute(
        select(Person.id).where(Person.role == "student")).scalar())  # fmt: skip


async def test_data_rights_work_during_a_hold(runtime: Runtime) -> None:
    dana = add_mentor(runtime, "Dana Brooks", languages=["en"])
    sam, escalation = await student_asks_for_a_mentor(runtime)
    await dana.says(f"/take {escalation.id}")
    [card] = inbox(runtime, dana)
    last = max(d.id for d in rows(runtime, Delivery))
    [mydata] = await sam.says("/mydata")
    assert mydata.text.startswith("This is what we store about you")
    confirm = await sam.says("/forgetme")
    assert "Erase everything?" in confirm[-1].text
    done = await sam.picks("yes")
    assert "your data is erased" in done[0].text
    later = rows(runtime, Delivery, Delivery.id > last, Delivery.person_id != sam_id(runtime))
    assert later == []  # nothing of this went to the mentor
    [blanked] = rows(runtime, Delivery, Delivery.id == card.id)
    assert blanked.text == "" and blanked.address == ""  # the card named Sam: erased too
    assert rows(runtime, Escalation) == []  # the erasure took the request with it


async def test_crisis_during_a_hold_gets_the_lines_and_the_mentor_is_told(
    runtime: Runtime,
) -> None:
    dana = add_mentor(runtime, "Dana Brooks", languages=["en"])
    sam, escalation = await student_asks_for_a_mentor(runtime)
    await dana.says(f"/take {escalation.id}")
    [reply] = await sam.says("i want to end my life")
    assert "988" in reply.text  # the bot speaks during a hold only for this (and STOP/HELP)
    assert "may be in crisis" in inbox(runtime, dana)[-1].text
    [row] = rows(runtime, Escalation)
    assert (row.status, row.priority, row.mentor_id is not None) == ("taken", "urgent", True)


async def test_a_waiting_request_that_turns_urgent_goes_to_everyone(runtime: Runtime) -> None:
    add_mentor(runtime, "Dana Brooks", languages=["en"])
    ivan = add_mentor(runtime, "Ivan Petrov", languages=["ru"])
    sam, _escalation = await student_asks_for_a_mentor(runtime)
    assert inbox(runtime, ivan) == []  # a normal request: the English speaker first
    await sam.says("i want to end my life")
    [card] = inbox(runtime, ivan)
    assert "URGENT" in card.text
    [row] = rows(runtime, Escalation)
    assert row.priority == "urgent" and len(row.offered_to) == 2


async def test_a_request_nobody_takes_in_a_week_expires(
    runtime: Runtime, clock: FakeClock
) -> None:
    add_mentor(runtime, "Dana Brooks", languages=["en"])  # offered, never taken
    await student_asks_for_a_mentor(runtime)
    clock.advance(timedelta(days=6))
    runtime.db.run_sync(lambda s: desk_timers.tick(_desk(runtime), s, clock.now()))
    assert rows(runtime, Escalation)[0].status == "offered"
    clock.advance(timedelta(days=2))
    runtime.db.run_sync(lambda s: desk_timers.tick(_desk(runtime), s, clock.now()))
    [row] = rows(runtime, Escalation)
    assert (row.status, row.closed_at) == ("expired", clock.now())
