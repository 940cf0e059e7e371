"""Roles as real processes (`mentorbot run --role ...`) against the Telegram emulator.

One web and two workers on one PostgreSQL plan and send every nudge exactly once; a SIGTERM
while sends are in flight lets them finish and be recorded, and the process exits 0 in < 10 s.
Every wait polls a state (the emulator, the database, /healthz) against a deadline.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from bot.messages import Reply
from storage.database import Database, create_db_engine
from storage.events import record_events
from storage.migrate import upgrade
from storage.outbox import add_replies
from storage.tables import ConsentRecord, Delivery, Identity, Person
from tests.emulators.telegram_api import TelegramEmulator
from tests.live_server import free_port

pytestmark = pytest.mark.e2e
SECRET = "roles-webhook-secret"
CAMPAIGNS = """
campaigns:
  - id: missed
    scenario: class_missed
    trigger: {event: {type: class_missed, delay: 1h}}
    channels: [telegram]
    holdout: 0.0
    expires_after: 3d
    attribution: {target: class_attended, window: 7d}
"""
NUDGES = 700  # more than one drain claims (500): both workers get a share
FINAL = ("sent", "delivered")


@dataclass
class Process:
    role: str
    port: int
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


def process_env(database_url: str, emu: TelegramEmulator, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MENTORBOT_")}
    env |= {
        "MENTORBOT_ENVIRONMENT": "test",
        "MENTORBOT_DATABASE_URL": database_url,
        "MENTORBOT_DEMO_SEED": "false",
        "MENTORBOT_TELEGRAM__TOKEN": emu.token,
        "MENTORBOT_TELEGRAM__API_BASE": emu.base_url,
        "MENTORBOT_TELEGRAM__RATE_PER_SECOND": "1000",  # the emulator does not limit here
        "MENTORBOT_TELEGRAM__REQUEST_TIMEOUT": "10",
        "MENTORBOT_SCHEDULER__TICK_SECONDS": "0.3",
    }
    return env | {f"MENTORBOT_{k.upper()}": v for k, v in settings.items()}


@asynccontextmanager
async def running(
    roles: list[tuple[str, int]], env: dict[str, str], tmp: Path
) -> AsyncIterator[list[Process]]:
    """Start one process per (role, port), wait until each answers /healthz; stop them all."""
    started: list[Process] = []
    try:
        for role, port in roles:
            started.append(spawn(role, port, env, tmp))
        for process in started:
            await wait_healthy(process)
        yield started
    finally:
        for process in started:
            if process.popen.poll() is None:
                process.popen.send_signal(signal.SIGTERM)
        # Polled, not waited for: the emulator in this event loop must keep answering them.
        try:
            await wait_until(lambda: all(p.popen.poll() is not None for p in started), "exit")
        finally:
            for process in started:
                if process.popen.poll() is None:  # a hung process must not outlive the test
                    process.popen.kill()
                    process.popen.wait()


def spawn(role: str, port: int, env: dict[str, str], tmp: Path) -> Process:
    log = tmp / f"{role}-{port}.log"
    command = [sys.executable, "-m", "bot", "run", "--role", role, "--port", str(port)]
    with log.open("wb") as out:
        popen = subprocess.Popen(command, cwd=tmp, env=env, stdout=out, stderr=subprocess.STDOUT)
    return Process(role, port, popen, log)


async def wait_healthy(process: Process, timeout: float = 90) -> None:  # noqa: ASYNC109
    async def healthy() -> bool:
        if process.popen.poll() is not None:
            raise AssertionError(f"{process.role} exited early:\n{process.output()}")
        try:
            async with httpx.AsyncClient() as client:
                return (await client.get(process.base + "/healthz", timeout=1)).status_code == 200
        except httpx.TransportError:
            return False

    deadline = time.monotonic() + timeout
    while not await healthy():
        if time.monotonic() > deadline:
            raise AssertionError(f"{process.role} not healthy:\n{process.output()}")
        await asyncio.sleep(0.1)


async def wait_until(check: Callable[[], bool], what: str, timeout: float = 60) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout} s: {what}")
        await asyncio.sleep(0.05)


@contextmanager
def database(url: str) -> Iterator[Database]:
    db = Database(create_db_engine(url))
    try:
        yield db
    finally:
        db.close()


def midday_zone(now: datetime) -> str:
    """A fixed-offset zone where it is about 13:00 now, so quiet hours never hold a nudge."""
    offset = 13 - now.hour  # -10 .. +13: every one exists
    return f"Etc/GMT{-offset:+d}"  # the Etc names count west as positive


def seed_students(db: Database, chats: list[int], now: datetime) -> None:
    """Students with a Telegram chat and consent, each of whom missed a class two hours ago."""
    zone = midday_zone(now)

    def write(session: Session) -> None:
        people = {chat: add_student(session, chat, zone, now) for chat in chats}
        missed = now - timedelta(hours=2)
        record_events(session, [
            {"event_id": f"ev-{chat}", "person_id": person_id, "type": "class_missed",
             "occurred_at": missed, "ref": "c1", "score": None, "payload": {}, "created_at": now}
            for chat, person_id in people.items()])  # fmt: skip

    db.run_sync(write)


def add_student(session: Session, chat: int, zone: str, now: datetime) -> int:
    person = Person(display_name=f"S{chat}", locale="en", time_zone=zone, created_at=now,
                    program="microbachelors-cs", lms_id=f"lms-{chat}")  # fmt: skip
    session.add(person)
    session.flush()
    person_id = person.id or 0
    session.add(Identity(person_id=person_id, channel="telegram", address=str(chat),
                         created_at=now))  # fmt: skip
    session.add(ConsentRecord(person_id=person_id, purpose="coaching", decision="granted",
                              created_at=now))  # fmt: skip
    return person_id


def counts(db: Database, kind: str) -> dict[str, int]:
    query = (select(Delivery.status, func.count()).where(Delivery.kind == kind)
             .group_by(Delivery.status))  # fmt: skip
    return {status: n for status, n in db.run_sync(lambda s: s.execute(query).all())}


def sent_counter(process: Process) -> int:
    """Telegram messages this process sent, from its own /metrics."""
    text = httpx.get(process.base + "/metrics", timeout=5).text
    label = 'mentorbot_outbound_messages_total{channel="telegram",outcome="sent"} '
    found = re.search(re.escape(label) + r"([0-9.]+)", text)
    return int(float(found.group(1))) if found else 0


def settled(db: Database, emu: TelegramEmulator, chat: int) -> bool:
    """The chat's replies are all recorded as sent, and the emulator got each of them."""
    query = select(Delivery.status).where(Delivery.address == str(chat))
    found = db.run_sync(lambda s: s.execute(query).scalars().all())
    return bool(found) and set(found) <= set(FINAL) and len(found) == len(emu.messages_to(chat))


def three_process_env(url: str, emu: TelegramEmulator, web_port: int, tmp: Path) -> dict[str, str]:
    (tmp / "campaigns.yaml").write_text(CAMPAIGNS)
    return process_env(
        url,
        emu,
        public_url=f"http://127.0.0.1:{web_port}",
        telegram__mode="webhook",
        telegram__webhook_secret=SECRET,
        nudges__campaigns_file=str(tmp / "campaigns.yaml"),
        nudges__plan_seconds="0.5",
    )


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_one_web_and_two_workers_send_every_nudge_exactly_once(
    database_url: str, tmp_path: Path
) -> None:
    url = database_url  # an empty database: the three processes migrate it, together
    chats, visitor = list(range(50_000, 50_000 + NUDGES)), 42
    async with TelegramEmulator(enforce_limits=False) as emu:
        for chat in [*chats, visitor]:
            emu.register_chat(chat)
        ports = [free_port() for _ in range(3)]
        roles = list(zip(["web", "worker", "worker"], ports, strict=True))
        env = three_process_env(url, emu, ports[0], tmp_path)
        async with running(roles, env, tmp_path) as (web, *workers):
            # Only the web registered the webhook; nobody polls in webhook mode.
            assert (emu.calls["setWebhook"], emu.calls["getUpdates"]) == (1, 0)
            with database(url) as db:
                seed_students(db, chats, datetime.now(UTC))
                await wait_until(lambda: counts(db, "nudge") == {"sent": NUDGES}, "all sent")
                await emu.user_sends_command(visitor, "start")
                await wait_until(lambda: settled(db, emu, visitor), "the answer to /start")
            per_worker = [sent_counter(w) for w in workers]
            web_sent = sent_counter(web)
    nudged = [r.chat_id for r in emu.sent if r.chat_id != visitor]
    assert sorted(nudged) == chats, "every chat gets its nudge exactly once"
    assert sum(per_worker) == NUDGES and min(per_worker) > 0, per_worker
    # The web process sent its turn's replies itself, and only those.
    assert web_sent == len(emu.messages_to(visitor)) > 0


def queue_replies(db: Database, chats: list[int], now: datetime) -> None:
    def write(session: Session) -> None:
        for chat in chats:
            replies = [Reply(f"hello {chat}")]
            add_replies(session, person_id=None, channel="telegram", address=str(chat),
                        replies=replies, now=now)  # fmt: skip

    db.run_sync(write)


def sent_chats(db: Database) -> list[int]:
    query = select(Delivery.address).where(Delivery.status.in_(FINAL))  # type: ignore[attr-defined]
    return sorted(int(a) for a in db.run_sync(lambda s: s.execute(query).scalars().all()))


# The one-process deployment on SQLite, and a worker on PostgreSQL.
@pytest.mark.parametrize(("database_url", "role"), [("sqlite", "all"), ("postgres", "worker")],
                         indirect=["database_url"])  # fmt: skip
async def test_sigterm_lets_sends_in_flight_finish_and_exits_within_10_s(
    database_url: str, role: str, tmp_path: Path
) -> None:
    url = database_url
    upgrade(url)
    chats = list(range(60_000, 60_200))  # one call at a time: nearly all wait at the stop
    with database(url) as db:
        queue_replies(db, chats, datetime.now(UTC))
    async with TelegramEmulator(enforce_limits=False) as emu:
        for chat in chats:
            emu.register_chat(chat)
        emu.inject("sendMessage", "timeout", times=len(chats), hold=2.5)  # slow, then answers
        async with running([(role, free_port())], process_env(url, emu), tmp_path) as [process]:
            await wait_until(lambda: len(emu.sent) >= 2, "sends under way")
            started = time.monotonic()
            process.popen.send_signal(signal.SIGTERM)
            await wait_until(lambda: process.popen.poll() is not None, "exit", timeout=15)
            elapsed = time.monotonic() - started
    assert process.popen.returncode == 0, process.output()
    assert elapsed < 10, f"stopped in {elapsed:.1f} s"
    with database(url) as db:
        states, sent = counts(db, "reply"), sent_chats(db)
    assert "sending" not in states, states
    assert sorted(r.chat_id for r in emu.sent) == sent, "each accepted send recorded, once"
    assert states.get("pending", 0) == len(chats) - len(sent) > 0, states
