"""Opt-out under concurrency: no SMS reaches an opted-out number, under any interleaving of
STOP (and START), planning and sending, over real HTTP (the app under uvicorn, the Twilio
emulator posting the inbound texts).

Hypothesis draws schedules: people text STOP, START or an ordinary message; deliveries are
planned (nudges, broadcasts, alerts, replies written to the outbox, and the real nudge planner's
tick); the dispatcher drains; each step is awaited, or started and left running beside the next
ones, with some loop turns in between. The check sits where a send becomes a provider call:
the SMS sender is wrapped, and when it asks to begin its call (after pacing, right before the
HTTP request) the number's opt-out is read from the database. A send that begins while the
number is opted out is a violation, unless it is the compliance answer itself (the STOP
confirmation, HELP), which the carriers' rules require.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlmodel import Session

from bot.clock import FakeClock
from bot.messages import Outbound, Reply
from scheduler.policy import COMPLIANCE_KIND
from storage.events import record_events
from storage.outbox import add_replies
from storage.people import link_identity
from storage.tables import ConsentRecord, Delivery, OptOut, Person, SmsInbox
from tests.reliability.conftest import FULL, Report, sized
from tests.reliability.tally import NOT_FINAL, logged_exceptions
from tests.sms_world import OUR_NUMBER, SmsWorld, sms_world

NOON_NY = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)  # a Tuesday, 12:00 in New York
SCHEDULES = sized(12, 300)
PHONES = 4  # per schedule; the last one belongs to nobody
STOPS = ["STOP", "stop", "Unsubscribe", "cancel", "STOP please"]
STARTS = ["START", "unstop", "yes"]
PLANNED = ["nudge", "broadcast", "alert", "reply"]
_numbers = itertools.count(1)
_sids = itertools.count(1)


@dataclass
class Guard:
    """Wraps the SMS sender: reads the number's opt-out when a send begins its provider call."""

    inner: Any
    db: Any
    name: str = "sms"
    began: int = 0
    violations: list[str] = field(default_factory=list)
    # Deliveries whose send waits, as it begins, until the test opens the gate.
    gates: dict[int, asyncio.Event] = field(default_factory=dict)

    async def send(self, outbound: Outbound, *rest: Any) -> Any:
        if not rest:  # a sender without a begin hook: the call follows at once
            await self._gate(outbound)
            self._record(outbound, self._opted_out(outbound))
            return await self.inner.send(outbound)
        begin: Callable[[], Awaitable[bool]] = rest[0]

        async def checked_begin() -> bool:
            await self._gate(outbound)
            # Opted out before the send's last chance to look, and still after it began (a
            # START in between would make the send right).
            opted_out = self._opted_out(outbound)
            started = await begin()
            if started:
                self._record(outbound, opted_out and self._opted_out(outbound))
            return started

        return await self.inner.send(outbound, checked_begin, *rest[1:])

    async def _gate(self, outbound: Outbound) -> None:
        gate = self.gates.get(outbound.delivery_id)
        if gate is not None:
            await gate.wait()

    def _opted_out(self, outbound: Outbound) -> bool:
        row = self.db.run_sync(lambda s: s.get(OptOut, outbound.address))
        return row is not None and bool(row.opted_out)

    def _record(self, outbound: Outbound, opted_out: bool) -> None:
        self.began += 1
        if opted_out and outbound.kind != COMPLIANCE_KIND:
            self.violations.append(f"delivery {outbound.delivery_id} ({outbound.kind}) to "
                                   f"{outbound.address}: {outbound.reply.text[:50]!r}")


@dataclass
class Tally:
    schedules: int = 0
    steps: int = 0
    stops: int = 0
    concurrent: int = 0
    planned: int = 0


def new_cast(world: SmsWorld) -> tuple[list[str], dict[str, int]]:
    """Students with consent, an SMS number and a fresh enrolment (the welcome campaign plans
    them a nudge by SMS), and one number that belongs to nobody yet."""
    phones = [f"+1212{6_000_000 + next(_numbers):07d}" for _ in range(PHONES)]
    now = world.clock.now()

    def write(session: Session) -> dict[str, int]:
        people = {}
        for phone in phones[:-1]:
            person = Person(role="student", display_name="S", locale="en", phone_e164=phone,
                            track="verified", program="microbachelors-cs",
                            time_zone="America/New_York", last_active_at=now, created_at=now)
            session.add(person)
            session.flush()
            person_id = person.id or 0
            link_identity(session, person_id, "sms", phone, now)
            for purpose in ("coaching", "nudges"):
                session.add(ConsentRecord(person_id=person_id, purpose=purpose,
                                          decision="granted", created_at=now))  # fmt: skip
            people[phone] = person_id
        record_events(session, [
            {"event_id": f"enrolled-{pid}", "person_id": pid, "type": "enrolled",
             "occurred_at": now - timedelta(minutes=15), "ref": None, "score": None,
             "payload": {}, "created_at": now}
            for pid in people.values()])  # fmt: skip
        return people

    return phones, world.db(write)


async def text(world: SmsWorld, phone: str, body: str, sids: list[str]) -> None:
    sid = f"SMopt{next(_sids):027d}"
    sids.append(sid)
    status = await world.emu.send_inbound(f"{world.local_url}/sms/inbound", from_=phone,
                                          to=OUR_NUMBER, body=body, message_sid=sid)  # fmt: skip
    assert status == 200, status


def plan(world: SmsWorld, phone: str, kind: str, person_id: int | None) -> None:
    world.db(lambda s: add_replies(s, person_id=person_id, channel="sms", address=phone,
                                   replies=[Reply(f"A {kind} for you.")], now=world.clock.now(),
                                   kind=kind, meta={"time_zone": "America/New_York"}))  # fmt: skip


async def quiet(world: SmsWorld, sids: list[str]) -> None:
    """Every text handled and every delivery at rest."""

    def settled() -> bool:
        def read(session: Session) -> bool:
            open_inbox = session.execute(select(SmsInbox.message_sid).where(
                SmsInbox.message_sid.in_(sids), SmsInbox.processed_at.is_(None))).first()  # type: ignore[union-attr]
            handled = session.execute(select(SmsInbox.message_sid).where(
                SmsInbox.message_sid.in_(sids))).scalars().all()  # type: ignore[union-attr]
            in_flight = session.execute(select(Delivery.id).where(
                Delivery.status.in_(["claimed", "sending"]))).first()  # type: ignore[attr-defined]
            return open_inbox is None and len(handled) == len(sids) and in_flight is None

        return bool(world.db(read))

    await world.until(settled, timeout=20)


async def one_schedule(world: SmsWorld, data: st.DataObject, tally: Tally) -> None:
    phones, people = new_cast(world)
    running: list[asyncio.Task[Any]] = []
    sids: list[str] = []
    for _step in range(data.draw(st.integers(6, 16))):
        what = data.draw(st.sampled_from(
            ["stop", "stop", "start", "text", "plan", "plan", "plan_all", "planner", "drain",
             "drain"]))  # fmt: skip
        phone = phones[data.draw(st.integers(0, PHONES - 1))]
        word = data.draw(st.integers(0, 99))
        if what == "stop":
            step: Awaitable[Any] = text(world, phone, STOPS[word % len(STOPS)], sids)
            tally.stops += 1
        elif what == "start":
            step = text(world, phone, STARTS[word % len(STARTS)], sids)
        elif what == "text":
            step = text(world, phone, ["hi", "what is coaching?", "1", "help"][word % 4], sids)
        elif what == "plan":
            plan(world, phone, PLANNED[word % len(PLANNED)], people.get(phone))
            tally.planned += 1
            step = asyncio.sleep(0)
        elif what == "plan_all":
            for each in phones:
                plan(world, each, PLANNED[word % len(PLANNED)], people.get(each))
            tally.planned += len(phones)
            step = asyncio.sleep(0)
        elif what == "planner":
            step = world.runtime.nudges.plan_tick()  # type: ignore[union-attr]
        else:
            step = world.runtime.dispatcher.drain()
        tally.steps += 1
        if data.draw(st.booleans()):
            running.append(asyncio.ensure_future(step))
            tally.concurrent += 1
        else:
            await step
        for _ in range(data.draw(st.integers(0, 3))):
            await asyncio.sleep(0)
    await asyncio.gather(*running)
    await quiet(world, sids)
    await world.runtime.dispatcher.drain()
    await quiet(world, sids)
    tally.schedules += 1


def test_no_sms_reaches_an_opted_out_number(tmp_path: Path, report: Report) -> None:
    loop = asyncio.new_event_loop()
    stack = contextlib.AsyncExitStack()
    twilio = {"rate_per_second": 200.0}
    world: SmsWorld = loop.run_until_complete(stack.enter_async_context(
        sms_world(f"sqlite:///{tmp_path}/optout.sqlite3", FakeClock(NOON_NY), twilio=twilio)))
    guard = Guard(world.channel.sender, world.runtime.db)
    world.runtime.dispatcher.register(guard)  # type: ignore[arg-type]
    tally = Tally()

    @settings(max_examples=SCHEDULES, deadline=None, database=None, derandomize=not FULL,
              suppress_health_check=list(HealthCheck),
              phases=(Phase.explicit, Phase.generate))  # the database carries on: no replays
    @given(data=st.data())
    def schedule(data: st.DataObject) -> None:
        loop.run_until_complete(one_schedule(world, data, tally))

    failure: BaseException | None = None
    try:
        with logged_exceptions() as logged:
            try:
                schedule()
            except BaseException as exc:  # the figures first, then the failure
                failure = exc

        def census(session: Session) -> tuple[int, int]:
            opted = set(session.execute(select(OptOut.phone_e164).where(
                OptOut.opted_out.is_(True))).scalars())  # type: ignore[attr-defined]  # fmt: skip
            left = session.execute(select(Delivery.id).where(
                Delivery.status.in_(sorted(NOT_FINAL - {"pending", "held"})))).all()  # type: ignore[attr-defined]
            return len(opted), len(left)

        opted_out, in_flight = world.db(census)
    finally:
        loop.run_until_complete(stack.aclose())
        loop.close()
    report("optout", schedules=tally.schedules, steps=tally.steps, concurrent=tally.concurrent,
           stops=tally.stops, planned=tally.planned, numbers_opted_out=opted_out,
           sends_begun=guard.began, sms_to_opted_out=len(guard.violations), stuck=in_flight,
           exceptions=len(logged))
    for violation in guard.violations[:10]:
        print("  optout violation:", violation)
    if failure is not None:
        raise failure
    assert tally.schedules == SCHEDULES
    assert tally.stops > 0 and guard.began > 0
    assert guard.violations == [], guard.violations[:5]
    assert in_flight == 0
    assert logged == [], logged[:5]


async def test_a_send_leased_before_a_stop_does_not_go_out_after_it(
    tmp_path: Path, report: Report
) -> None:
    """The simplest interleaving, made certain: one drain leases two nudges to a number; the
    first goes out; the second is held as it begins its call (as pacing would hold it) while
    STOP arrives and is handled; then it may go on, and must not go out."""
    url = f"sqlite:///{tmp_path}/lease.sqlite3"
    async with sms_world(url, FakeClock(NOON_NY)) as world:
        guard = Guard(world.channel.sender, world.runtime.db)
        world.runtime.dispatcher.register(guard)  # type: ignore[arg-type]
        phones, people = new_cast(world)
        kim = phones[0]
        first = world.queue(kim, "First nudge.", person_id=people[kim])
        second = world.queue(kim, "Second nudge.", person_id=people[kim])
        guard.gates[second] = asyncio.Event()
        drain = asyncio.ensure_future(world.runtime.dispatcher.drain())
        await world.emu.wait_for(lambda: len(world.emu.messages_to(kim)) == 1)
        await world.text(kim, "STOP")  # returns once the STOP turn has committed
        guard.gates[second].set()
        await drain
        statuses = [world.delivery(first).status, world.delivery(second).status]
        bodies = world.bodies_to(kim)
    report("optout-leased", sends_begun=guard.began, sms_to_opted_out=len(guard.violations),
           first=statuses[0], second=statuses[1])
    assert bodies[0] == "First nudge."
    assert "Second nudge." not in bodies, bodies
    assert guard.violations == []
    assert statuses[1] in ("suppressed", "cancelled"), statuses
