"""The PostgreSQL server stopped (`pg_ctl stop -m fast`) and started again while traffic flows:
texts coming in over the Twilio webhook, replies and queued messages going out. The service is
not restarted or told anything: it has to recover by itself, and lose nothing it acknowledged.

Acknowledged means: an inbound text the webhook answered 200 (it is stored before that answer),
and a message whose outbox write committed. Afterwards every acknowledged text is stored,
handled and answered (each of these texts gets exactly one reply), every acknowledged message
is delivered, and nothing is left in flight. Texts the webhook refused while the database was
down are posted again later (Twilio itself would not; a sender's retry or fallback would), so
those are answered too. Time: the fake clock moves on while the test waits for the end state (see
`wait_settled`), so retries, the inbox sweep and lapsed leases come due as they would.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
from sqlalchemy import func, select, update
from sqlmodel import Session

from bot.clock import FakeClock
from bot.messages import Reply
from storage import claims
from storage.consent import append_consent
from storage.outbox import add_replies
from storage.tables import Delivery, SmsInbox
from tests.postgres_server import PostgresServer, find_bindir, throwaway_server, unavailable
from tests.reliability.conftest import Report, sized
from tests.reliability.tally import NOT_FINAL, logged_exceptions
from tests.sms_world import OUR_NUMBER, SmsWorld, sms_world

NOON_NY = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)
PHONES = 20
QUEUED = "Queued message "
_sids = itertools.count(1)


class Traffic:
    """Texts in and messages out, each remembered as acknowledged or refused."""

    def __init__(self, world: SmsWorld, phones: list[str]) -> None:
        self.world, self.phones = world, phones
        self.acked_in: dict[str, str] = {}  # sid -> phone
        self.refused_in: dict[str, str] = {}
        self.acked_out: dict[int, str] = {}  # delivery id -> phone
        self.refused_out = 0
        self.replies_expected: Counter[str] = Counter()  # one per acknowledged text
        self.acked_bodies: set[str] = set()  # acknowledged outbox writes (unique bodies)
        self.refused_bodies: set[str] = set()
        self._changed = asyncio.Event()

    def _note(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def until(self, predicate: Callable[[], bool]) -> None:
        """Wait, outcome by outcome, until `predicate()` holds."""
        while True:
            changed = self._changed  # taken before the check: no outcome is missed
            if predicate():
                return
            await changed.wait()

    @property
    def refused(self) -> int:
        return len(self.refused_in) + self.refused_out

    async def text(self, phone: str, sid: str | None = None) -> None:
        sid = sid or f"SMpg{next(_sids):028d}"
        try:
            status = await self.world.emu.send_inbound(
                f"{self.world.local_url}/sms/inbound", from_=phone, to=OUR_NUMBER,
                body="hello", message_sid=sid)  # fmt: skip
        except (ConnectionError, aiohttp.ClientError):
            status = 0
        if status == 200:
            self.refused_in.pop(sid, None)
            if sid not in self.acked_in:
                self.acked_in[sid] = phone
                self.replies_expected[phone] += 1
        else:
            self.refused_in[sid] = phone
        self._note()

    async def queue(self, phone: str, n: int) -> None:
        body = f"{QUEUED}{n}."
        now = self.world.clock.now()

        def write(session: Session) -> int:
            [out] = add_replies(session, person_id=None, channel="sms", address=phone,
                                replies=[Reply(body)], now=now)  # fmt: skip
            return out.delivery_id

        try:
            delivery_id = await self.world.runtime.db.run(write)
        except Exception:  # the database is down: not acknowledged (it may still have committed)
            self.refused_out += 1
            self.refused_bodies.add(body)
        else:
            self.acked_out[delivery_id] = phone
            self.acked_bodies.add(body)
        self._note()

    async def run(self, count: int, restarted: asyncio.Event) -> None:
        """At least `count` steps, and on until some texts went through after the restart."""
        after_restart = None
        for n in itertools.count():
            if restarted.is_set() and after_restart is None:
                after_restart = len(self.acked_in) + 10
            if n >= count and after_restart is not None and len(self.acked_in) >= after_restart:
                return
            phone = self.phones[n % len(self.phones)]
            await (self.queue(phone, n) if n % 3 == 2 else self.text(phone))

    async def resend_refused(self) -> None:
        for sid, phone in list(self.refused_in.items()):
            await self.text(phone, sid)


def settle_people(world: SmsWorld, phones: list[str]) -> None:
    """Each has answered the first-contact question already: a "hello" gets one reply."""
    for phone in phones:
        person = world.add_person(phone, display_name="P")
        world.db(lambda s, p=person: append_consent(
            s, person_id=p, purpose="nudges", decision="declined", phone=None, channel="sms",
            text_version="t", locale="en", source_message_id=None, now=world.clock.now()))


def state(world: SmsWorld, traffic: Traffic) -> dict[str, Any]:
    sids = list(traffic.acked_in)

    def read(session: Session) -> dict[str, Any]:
        processed = set(session.execute(select(SmsInbox.message_sid).where(
            SmsInbox.message_sid.in_(sids), SmsInbox.processed_at.is_not(None))).scalars())  # type: ignore[union-attr]
        statuses = dict(session.execute(select(Delivery.status, func.count()).where(
            Delivery.channel == "sms").group_by(Delivery.status)).all())  # fmt: skip
        return {"unprocessed": len(set(sids) - processed), "statuses": statuses}

    found = world.db(read)
    queued = Counter(m.body for m in world.emu.messages if m.body.startswith(QUEUED))
    replies = Counter(m.to for m in world.emu.messages if not m.body.startswith(QUEUED))
    expected = traffic.replies_expected
    found["missing"] = (sum(max(0, n - replies[p]) for p, n in expected.items())
                        + sum(1 for body in traffic.acked_bodies if queued[body] == 0))
    found["extra"] = (sum(max(0, replies[p] - n) for p, n in expected.items())
                      + sum(n - 1 for n in queued.values() if n > 1))
    # Writes whose commit the client saw fail although it went through: not acknowledged,
    # and sent once; not a duplicate.
    found["refused_but_done"] = sum(1 for body in traffic.refused_bodies if queued[body])
    found["stuck"] = sum(n for s, n in found["statuses"].items() if s in NOT_FINAL)
    return found


def explain_duplicates(world: SmsWorld, traffic: Traffic) -> list[str]:
    """Where Twilio got more than expected: per phone, texts acknowledged and stored, replies
    recorded (by status and attempts) and replies Twilio got; queued bodies sent twice."""
    got = Counter(m.to for m in world.emu.messages if not m.body.startswith(QUEUED))
    lines = []
    for phone, n in traffic.replies_expected.items():
        if got[phone] <= n:
            continue

        def read(session: Session, phone: str = phone) -> tuple[int, Counter[str]]:
            stored = session.execute(select(func.count()).select_from(SmsInbox).where(
                SmsInbox.from_number == phone)).scalar_one()  # fmt: skip
            rows = session.execute(select(Delivery.status, Delivery.attempts, Delivery.error)
                                   .where(Delivery.address == phone,
                                          Delivery.text.not_like(QUEUED + "%"))).all()  # type: ignore[union-attr]  # fmt: skip
            return stored, Counter(f"{st}/{at}/{(er or '')[:40]}" for st, at, er in rows)

        stored, rows = world.db(read)
        lines.append(f"{phone}: acknowledged {n}, stored {stored}, Twilio got {got[phone]}, "
                     f"replies {dict(rows)}")  # fmt: skip
    by_row = Counter(parse_qs(urlsplit(m.status_callback or "").query).get("d", ["?"])[0]
                     for m in world.emu.messages)  # fmt: skip
    for row_id, n in by_row.items():
        if n > 1 and row_id.isdigit():
            row = world.db(lambda s, i=int(row_id): s.get(Delivery, i))
            lines.append(f"delivery {row_id} sent {n} times: {row.kind} {row.status} "
                         f"attempts={row.attempts} error={row.error!r} meta={sorted(row.meta)} "
                         f"created={row.created_at} updated={row.updated_at}")  # fmt: skip
    twice = Counter(m.body for m in world.emu.messages if m.body.startswith(QUEUED))
    for body, n in twice.items():
        if n > 1:
            rows = world.db(lambda s, b=body: [
                (r.id, r.status, r.attempts, (r.error or "")[:60], r.external_id, sorted(r.meta))
                for r in s.execute(select(Delivery).where(Delivery.text == b)).scalars()])
            sids = [m.sid for m in world.emu.messages if m.body == body]
            lines.append(f"{body!r} sent {n} times as {sids}: rows {rows}")
    return lines


async def wait_settled(world: SmsWorld, traffic: Traffic, timeout: float) -> dict[str, Any]:  # noqa: ASYNC109
    """Poll the end state, moving the fake clock on: one second a poll (50 ms) while anything
    moves, so a provider call still in flight (at most its 1 s timeout) never looks two
    minutes old (SEND_LEASE) and taken for the call of a process that died; thirty seconds a
    poll once nothing has moved for twenty polls (no call can be in flight then), so retries
    and lapsed leases come due without waiting out minutes."""
    loop = asyncio.get_running_loop()
    deadline, quiet, last = loop.time() + timeout, 0, None
    while True:
        now = state(world, traffic)
        if (now["unprocessed"], now["missing"], now["stuck"]) == (0, 0, 0):
            return now
        if loop.time() > deadline:
            return now
        seen = (len(world.emu.messages), sorted(now["statuses"].items()), now["unprocessed"])
        quiet = quiet + 1 if seen == last else 0
        last = seen
        world.clock.advance(timedelta(seconds=30 if quiet >= 20 else 1))
        await asyncio.sleep(0.05)


async def restart_during(
    server: PostgresServer, traffic: Traffic, after: int, restarted: asyncio.Event
) -> int:
    """Once `after` texts are acknowledged: stop the server, wait until the service has refused
    texts and writes, start it again. Returns how many were refused while it was down."""
    async with asyncio.timeout(60):
        await traffic.until(lambda: len(traffic.acked_in) >= after)
        await asyncio.to_thread(server.stop, "fast")
        # Down long enough that both texts and outbox writes were refused.
        await traffic.until(lambda: len(traffic.refused_in) >= 5 and traffic.refused_out >= 2)
        refused = traffic.refused
        await asyncio.to_thread(server.start)
    restarted.set()
    return refused


async def test_postgres_restart_during_traffic_loses_nothing_acknowledged(
    tmp_path: Path, report: Report
) -> None:
    if find_bindir() is None:
        unavailable()
    count = sized(180, 3000)
    with throwaway_server() as server:
        url = server.fresh_database()
        twilio = {"rate_per_second": 500.0, "inbox_sweep_seconds": 0.2, "timeout_seconds": 1.0}
        scheduler = {"enabled": True, "tick_seconds": 0.2}
        async with sms_world(url, FakeClock(NOON_NY), twilio=twilio,
                             scheduler=scheduler) as world:  # fmt: skip
            phones = [f"+1212{7_000_000 + i:07d}" for i in range(PHONES)]
            settle_people(world, phones)
            traffic = Traffic(world, phones)
            with logged_exceptions() as logged:
                restarted = asyncio.Event()
                restart = asyncio.ensure_future(
                    restart_during(server, traffic, count // 3, restarted))
                async with asyncio.timeout(120):
                    await traffic.run(count, restarted)
                refused_while_down = await restart
                await traffic.resend_refused()
                end = await wait_settled(world, traffic, timeout=sized(60, 180))
            still_refused = len(traffic.refused_in)
            for line in explain_duplicates(world, traffic) if end["extra"] else []:
                print("  duplicate:", line)
    report("postgres-restart", texts_acknowledged=len(traffic.acked_in),
           messages_acknowledged=len(traffic.acked_out), refused_while_down=refused_while_down,
           still_refused=still_refused, refused_but_done=end["refused_but_done"],
           lost=end["missing"] + end["unprocessed"],
           duplicated=end["extra"], stuck=end["stuck"], exceptions_logged=len(logged),
           ended=",".join(f"{s}:{n}" for s, n in sorted(end["statuses"].items())))  # fmt: skip
    assert refused_while_down >= 7, "the server was not down while traffic flowed"
    assert still_refused == 0, "the service did not come back: texts are still refused"
    assert end["unprocessed"] == 0, "acknowledged texts were not handled"
    assert end["missing"] == 0, "acknowledged texts or messages were not answered or sent"
    assert end["stuck"] == 0, end["statuses"]
    assert end["extra"] <= 1, "more than one duplicate for one restart"


async def test_a_send_in_doubt_is_found_among_later_messages_to_the_number(
    tmp_path: Path, report: Report
) -> None:
    """What the restart showed, made certain: a send whose outcome was lost (the database
    went away during the call) is looked up before it is sent again; more than twenty later
    messages to the same number must not hide it."""
    clock = FakeClock(NOON_NY)
    async with sms_world(f"sqlite:///{tmp_path}/doubt.sqlite3", clock) as world:
        phone = "+12125550142"
        first = world.queue(phone, "The one in doubt.", kind="reply")
        await world.runtime.dispatcher.drain()
        for n in range(25):
            world.queue(phone, f"Later message {n}.", kind="reply")
        await world.runtime.dispatcher.drain()
        # As a lost outcome leaves it: in flight since before the later ones, lease lapsed.
        call_started = clock.now() - claims.SEND_LEASE - timedelta(seconds=5)
        world.db(lambda s: s.execute(update(Delivery).where(Delivery.id == first).values(
            status=claims.SENDING, lease_owner="gone:1:x", updated_at=call_started)))
        await world.runtime.dispatcher.drain()
        sent = world.bodies_to(phone).count("The one in doubt.")
        row = world.delivery(first)
    report("postgres-restart-doubt", later_messages=25, times_sent=sent, status=row.status)
    assert sent == 1, "sent again: the lookup did not find the first send"
    assert row.status in ("sent", "delivered")
