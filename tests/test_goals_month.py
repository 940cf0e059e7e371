"""A simulated month of goals, weekly plans, streaks, badges and mentors' briefs, on a fake
clock, in four time zones, on SQLite and PostgreSQL.

Every hour the weekly tick (close weeks, propose plans, queue reminders), the mentors' brief
and the sender run; students talk to the bot through the real engine at scripted moments.
Then we check what a mentor and the students would: plans proposed on the plan day at each
student's usual active hours, goals met, carried over and missed from their events, reminders
judged by the send-time policy (consent, the daily cap, a mentor's hold, quiet hours), the
weekly review in the persona's tone, a streak broken and restored, badges earned once, and
briefs that list exactly the students at risk.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.app import Runtime, build_runtime
from bot.clock import FakeClock
from storage.tables import Badge, Delivery, Goal, Person, StudyPlan
from tests.conftest import _fresh_postgres_database, make_settings
from tests.fakes import RecordingSender
from tests.nudge_world import Student, add_event, add_student
from tests.transcript import Chatter

START = datetime(2026, 11, 2, 5, 0, tzinfo=UTC)  # Monday, midnight in New York
DAYS = 24
TICK = timedelta(hours=1)
NY, MOSCOW, KOLKATA, MEXICO = (
    "America/New_York",
    "Europe/Moscow",
    "Asia/Kolkata",
    ("America/Mexico_City"),
)


def at_local(day: int, hour: int, zone: str, minute: int = 0) -> datetime:
    first = START.astimezone(ZoneInfo(zone)).date() + timedelta(days=day)
    return datetime(first.year, first.month, first.day, hour, minute, tzinfo=ZoneInfo(zone))


def local(moment: datetime, zone: str) -> datetime:
    return moment.astimezone(ZoneInfo(zone))


class Month:
    """The runtime, the cohort, their chats, and what the sim saw on the way."""

    def __init__(self, runtime: Runtime, clock: FakeClock) -> None:
        self.runtime, self.clock = runtime, clock
        self.people: dict[str, Student] = {}
        self.chats: dict[str, Chatter] = {}
        self.held: dict[int, set[str]] = {}  # delivery id -> reasons it was held for
        self.heard: dict[str, list[str]] = {}  # scripted /progress answers, by label
        self.script: list[tuple[datetime, Callable[[], Awaitable[None]]]] = []

    def at(self, when: datetime, action: Callable[[], Awaitable[None]]) -> None:
        self.script.append((when, action))

    def rows(self, model: type, *where: object) -> list:
        return self.runtime.db.run_sync(
            lambda s: list(s.execute(select(model).where(*where)).scalars())
        )


def _history(m: Month, s: Student, *, last_day: int, missed: set[int] = frozenset()) -> None:
    rt = m.runtime
    add_event(rt, s, "enrolled", START - timedelta(days=60))
    for day in range(-40, last_day):
        add_event(rt, s, "login", at_local(day, 17, s.zone))
    for day in range(-40, last_day, 2):
        kind = "class_missed" if day in missed else "class_attended"
        add_event(rt, s, kind, at_local(day, 16, s.zone, 30), ref=f"class-{s.name}-{day}")
    for week in range(-5, 4):
        if week * 7 < last_day:
            ref = f"hw-{week}"
            add_event(rt, s, "assignment_assigned", at_local(week * 7, 10, s.zone), ref=ref)
            add_event(rt, s, "assignment_submitted", at_local(week * 7 + 1, 18, s.zone), ref=ref)


def _mentor(m: Month, name: str, zone: str, students: list[str]) -> Chatter:
    now = m.clock.now()
    mentor = add_student(
        m.runtime, name, zone=zone, channels=("telegram",), consent=None, lms_id=f"m-{name}"
    )

    def promote(session: object) -> None:
        person = session.get(Person, mentor.id)  # type: ignore[attr-defined]
        person.role = "mentor"
        for student in students:
            session.get(Person, m.people[student].id).mentor_id = mentor.id  # type: ignore[attr-defined]

    m.runtime.db.run_sync(promote)
    del now
    return Chatter(m.runtime, "telegram", mentor.addresses["telegram"])


def _cohort(m: Month) -> None:
    rt = m.runtime
    m.people = {
        "ana": add_student(rt, "Ana", zone=NY, channels=("telegram",)),
        "boris": add_student(rt, "Boris", zone=MOSCOW, locale="ru", channels=("telegram",)),
        "chitra": add_student(rt, "Chitra", zone=KOLKATA, locale="hi", channels=("webchat",)),
        "diego": add_student(
            rt, "Diego", zone=MEXICO, locale="es", channels=("telegram",), consent=None
        ),
        "eve": add_student(rt, "Eve", zone=NY, channels=("telegram",)),
        "farid": add_student(rt, "Farid", zone=MOSCOW, channels=("telegram",)),
    }
    _history(m, m.people["ana"], last_day=DAYS, missed={10})
    _history(m, m.people["boris"], last_day=-20)  # lapsed: nothing for 20 days already
    _history(m, m.people["diego"], last_day=DAYS)
    _history(m, m.people["eve"], last_day=DAYS)
    _history(m, m.people["farid"], last_day=-20)
    for name, s in m.people.items():
        channel = next(iter(s.addresses))
        m.chats[name] = Chatter(rt, channel, s.addresses[channel])
    m.chats["dana"] = _mentor(m, "Dana", NY, ["ana", "boris", "chitra", "diego", "eve"])
    m.chats["misha"] = _mentor(m, "Misha", MOSCOW, ["farid"])


def _script(m: Month) -> None:
    ana, boris, eve, dana = (m.chats[n] for n in ("ana", "boris", "eve", "dana"))

    async def ana_week_0() -> None:
        await ana.says("/goals")
        await ana.picks("set:attend_all:1")
        await ana.picks("own")
        await ana.says("read chapter 3")
        await ana.picks("close")
        await ana.says("/plan")
        await ana.picks("accept")

    async def ana_checks_in() -> None:
        await ana.says("/goals")
        [own] = [c for c in ana.last().choices if c.id.startswith("checkin:")]
        await ana.picks(own.id)

    async def ana_week_1() -> None:
        await ana.says("/goals")
        await ana.picks("set:attend_all:1")
        await ana.says("/plan")
        await ana.picks("accept")

    async def boris_goal() -> None:
        await boris.says("/goals")
        await boris.picks("set:study_sessions:1")

    async def eve_plan_and_mentor() -> None:
        await eve.says("/plan")
        await eve.picks("accept")
        await eve.says("/mentor")

    async def dana_takes() -> None:
        cards = m.rows(Delivery, Delivery.address == dana.address, Delivery.kind == "staff")
        take = next(c["id"] for r in cards for c in r.choices if c["id"].startswith("take:"))
        await dana.says("Take", choice=take)

    def progress(label: str) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            m.heard[label] = [r.text for r in await ana.says("/progress")]

        return run

    m.at(at_local(0, 10, NY), ana_week_0)
    m.at(at_local(0, 11, MOSCOW), boris_goal)
    m.at(at_local(2, 12, NY), ana_checks_in)
    m.at(at_local(2, 9, NY), lambda: _two_nudges_sent(m, "ana", at_local(2, 9, NY)))
    m.at(at_local(7, 9, NY), ana_week_1)
    m.at(at_local(7, 10, NY), eve_plan_and_mentor)
    m.at(at_local(7, 11, NY), dana_takes)
    m.at(at_local(10, 12, NY), progress("before_miss"))
    m.at(at_local(10, 18, NY), progress("after_miss"))
    m.at(at_local(12, 18, NY), progress("restored"))


async def _two_nudges_sent(m: Month, name: str, when: datetime) -> None:
    """Two campaign nudges already went out that local day: the daily cap is reached."""
    s = m.people[name]

    def write(session: object) -> None:
        for n in range(2):
            session.add(
                Delivery(
                    person_id=s.id,
                    channel="telegram",  # type: ignore[attr-defined]
                    address=s.addresses["telegram"],
                    kind="nudge",
                    text=f"n{n}",
                    status="sent",
                    due_at=when,
                    sent_at=when,
                    created_at=when,
                    updated_at=when,
                    meta={},
                )
            )

    m.runtime.db.run_sync(write)


async def _simulate(m: Month) -> None:
    weekly, brief = m.runtime.extras["weekly"], m.runtime.extras["brief"]
    db, clock = m.runtime.db, m.clock
    script = sorted(m.script, key=lambda item: item[0])
    while clock.now() < START + timedelta(days=DAYS):
        while script and script[0][0] <= clock.now():
            await script.pop(0)[1]()
        await db.run(lambda s: weekly.run(s, clock.now()))
        await db.run(lambda s: brief.run(s, clock.now()))
        await m.runtime.dispatcher.drain()
        for row in m.rows(Delivery, Delivery.status == "held"):
            m.held.setdefault(row.id, set()).add(row.error or "")
        clock.advance(TICK)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def month(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Month]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('goals')}/m.sqlite3"
    else:
        url = _fresh_postgres_database(request.getfixturevalue("postgres_server_url"))
    clock = FakeClock(START)
    senders = {"telegram": RecordingSender("telegram"), "sms": RecordingSender("sms")}
    runtime = build_runtime(make_settings(url), clock=clock, senders=senders)
    m = Month(runtime, clock)
    _cohort(m)
    _script(m)
    asyncio.run(_simulate(m))
    yield m
    runtime.db.close()


def _of(m: Month, name: str, template: str) -> list[Delivery]:
    rows = m.rows(Delivery, Delivery.person_id == m.people[name].id)
    return sorted((r for r in rows if r.meta.get("template") == template), key=lambda r: r.id)


def test_plans_are_proposed_on_the_plan_day_at_usual_active_hours(month: Month) -> None:
    # Ana and Eve are active around 17:00 (window 16-18): their plans come at 16:00, Mondays.
    # Chitra has no history: her program's hour, 18:00 in Kolkata.
    for name, hour in (("ana", 16), ("eve", 16), ("chitra", 18)):
        zone = month.people[name].zone
        weekly = _of(month, name, "weekly_plan")
        assert len(weekly) == 4, name
        for row in weekly:
            assert row.kind == "nudge" and row.purpose == "nudges"
            assert row.dedupe_key.endswith(local(row.created_at, zone).date().isoformat())
            assert local(row.created_at, zone).weekday() == 0  # the plan day, locally
        for row in (r for r in weekly if r.status == "sent"):
            due, sent = local(row.due_at, zone), local(row.sent_at, zone)
            assert (due.weekday(), due.hour, due.minute) == (0, hour, 0), (name, due)
            assert timedelta(0) <= sent - due < TICK
    assert all(
        r.status == "sent" for name in ("ana", "chitra") for r in _of(month, name, "weekly_plan")
    )
    # From week 1 Dana holds Eve's conversation: her plans wait for the hold, then expire.
    later = _of(month, "eve", "weekly_plan")[1:]
    assert all(r.status == "suppressed" and "mentor_holds" in month.held[r.id] for r in later)


def test_no_consent_no_plan_messages(month: Month) -> None:
    assert _of(month, "diego", "weekly_plan") == []
    assert month.rows(StudyPlan, StudyPlan.person_id == month.people["diego"].id) == []


def test_goals_met_carried_over_and_missed_from_events(month: Month) -> None:
    ana = sorted(
        month.rows(Goal, Goal.person_id == month.people["ana"].id),
        key=lambda g: (g.week_start, g.id),
    )
    seen = [(g.week_start.isoformat(), g.kind, g.status) for g in ana]
    assert seen[:4] == [
        ("2026-11-02", "attend_all", "met"),  # every class attended
        ("2026-11-02", "own", "met"),  # checked in by Ana
        ("2026-11-09", "attend_all", "carried"),  # the class missed on day 10
        ("2026-11-16", "attend_all", "met"),  # carried over, and made
    ]
    assert ana[3].carried_from == ana[2].id
    boris = sorted(
        month.rows(Goal, Goal.person_id == month.people["boris"].id), key=lambda g: g.week_start
    )
    assert [g.status for g in boris][:2] == ["carried", "missed"]  # a second miss is a miss


def test_reminders_go_through_the_send_time_policy(month: Month) -> None:
    ana = _of(month, "ana", "plan_reminder")
    sent = [r for r in ana if r.status == "sent"]
    assert sent and all(9 <= local(r.sent_at, NY).hour < 20 for r in sent)
    assert all(r.kind == "nudge" and r.purpose == "nudges" for r in ana)
    # Wednesday of week 0: two nudges already out, so the cap held it until it expired.
    wednesday = [r for r in ana if r.dedupe_key.endswith(at_local(2, 0, NY).date().isoformat())]
    assert [r.status for r in wednesday] == ["suppressed"]
    assert "daily_cap" in month.held[wednesday[0].id]
    # Eve's Monday of week 1: Dana holds her conversation, so the reminder waits, then expires.
    monday = at_local(7, 0, NY).date().isoformat()
    eve = [r for r in _of(month, "eve", "plan_reminder") if r.dedupe_key.endswith(monday)]
    assert eve and eve[0].status != "sent" and "mentor_holds" in month.held[eve[0].id]
    assert _of(month, "boris", "plan_reminder") == []  # he never accepted a plan


def test_the_weekly_review_in_the_personas_tone(month: Month) -> None:
    ana = [r.text for r in _of(month, "ana", "weekly_plan")]
    assert "Goal getter" in ana[1] and "you kept every item of your plan" in ana[1]
    assert "Carried over to this week: Attend every class" in ana[2]
    boris = [r.text for r in _of(month, "boris", "weekly_plan")]  # in Russian: his language
    assert "С возвращением!" in boris[1] and "Перенесено на эту неделю" in boris[1]
    assert "/plan" in boris[0] and "С возвращением" not in boris[0]  # nothing to review yet


def test_a_streak_broken_and_restored(month: Month) -> None:
    def streak(label: str) -> str:
        [text] = month.heard[label]
        return next(line for line in text.splitlines() if "Classes in a row" in line)

    before = int(streak("before_miss").split(": ")[1].split(" ")[0])
    assert before >= 5
    assert streak("after_miss").startswith("🔥 Classes in a row: 0")
    assert streak("restored").startswith("🔥 Classes in a row: 1")


def test_badges_are_earned_once(month: Month) -> None:
    badges = month.rows(Badge, Badge.person_id == month.people["ana"].id)
    assert sorted(b.badge for b in badges) == [
        "first_goal",
        "perfect_week",
        "points_100",
        "streak_5",
    ]
    told = [r.text for r in _of(month, "ana", "weekly_plan") if "Goal getter" in r.text]
    assert len(told) == 1  # announced in the review after it was earned, never again


def _briefs(m: Month, mentor: str) -> list[Delivery]:
    address = m.chats[mentor].address
    return sorted(
        m.rows(
            Delivery,
            Delivery.address == address,
            Delivery.kind == "staff",
            Delivery.dedupe_key.startswith("brief:"),
        ),
        key=lambda r: r.id,
    )


def test_the_mentors_brief_lists_exactly_the_students_at_risk(month: Month) -> None:
    dana = {local(r.created_at, NY).date(): r for r in _briefs(month, "dana")}
    assert all(local(r.created_at, NY).hour == 8 for r in dana.values())
    day_16 = dana[at_local(16, 0, NY).date()]  # Tuesday of week 2
    ids = {c["id"] for c in day_16.choices}
    expected = {f"card:{month.people[n].id}" for n in ("ana", "boris", "eve")}
    assert ids == expected, day_16.text
    assert "missed goal: Attend every class" in day_16.text
    assert "lapsed: no activity for" in day_16.text and "open request #" in day_16.text
    misha = _briefs(month, "misha")
    assert misha and all(
        {c["id"] for c in r.choices} == {f"card:{month.people['farid'].id}"} for r in misha
    )
    assert all(local(r.created_at, MOSCOW).hour == 8 for r in misha)
    assert len(dana) == len({d for d in dana})  # one a day


async def test_the_brief_button_opens_the_card_for_the_students_mentor_only(month: Month) -> None:
    ana_id = month.people["ana"].id
    [card] = await month.chats["dana"].says("Ana", choice=f"card:{ana_id}")
    assert card.text.startswith("Ana") and "Goals (week of" in card.text
    assert "Plan (week of" in card.text
    [refused] = await month.chats["misha"].says("Ana", choice=f"card:{ana_id}")
    assert "own students only" in refused.text and "Ana" not in refused.text
