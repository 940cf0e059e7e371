"""kill -9 while sending and while receiving, then a restart: nothing lost, nothing stuck, and at
most one duplicate per crash per sender process (Telegram cannot be asked whether a call whose
answer was lost went through, so the one call in flight is sent again).

Real processes (`mentorbot run`) against the Telegram emulator over HTTP, on SQLite (start-up
takes every earlier lease back) and PostgreSQL (leases lapse; shortened here to 3 s).
"""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from storage.database import Database
from storage.migrate import upgrade
from storage.sms import store_inbound
from storage.tables import Delivery, MessageLog, SmsInbox
from tests.emulators.telegram_api import TelegramEmulator
from tests.emulators.twilio_api import TwilioEmulator
from tests.live_server import free_port
from tests.reliability.conftest import Report, sized
from tests.reliability.tally import NOT_FINAL
from tests.test_roles_processes import (
    Process,
    database,
    process_env,
    queue_replies,
    spawn,
    wait_healthy,
    wait_until,
)

pytestmark = pytest.mark.e2e
SECRET = "crash-webhook-secret"
OUR_NUMBER = "+12025550199"
LEASES = {"scheduler__claim_lease_seconds": "3", "scheduler__send_lease_seconds": "3"}


def role_for(url: str) -> str:
    return "all" if url.startswith("sqlite") else "worker"


def statuses(db: Database) -> Counter[str]:
    query = select(Delivery.status, func.count()).group_by(Delivery.status)
    return Counter(dict(db.run_sync(lambda s: s.execute(query).all())))


def settled(db: Database) -> bool:
    return not set(statuses(db)) & NOT_FINAL


def kill(process: Process) -> None:
    process.popen.send_signal(signal.SIGKILL)
    process.popen.wait()


async def stop(process: Process) -> None:
    process.popen.send_signal(signal.SIGTERM)
    await wait_until(lambda: process.popen.poll() is not None, "exit", timeout=20)


def tracebacks(tmp: Path) -> int:
    """Unhandled exceptions the processes logged (their output files)."""
    return sum(log.read_text(errors="replace").count("Traceback") for log in tmp.glob("*.log"))


def duplicates(emu: TelegramEmulator) -> int:
    """Sends beyond the first of each (chat, text)."""
    seen = Counter((r.chat_id, r.text) for r in emu.sent)
    return sum(n - 1 for n in seen.values())


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
async def test_kill_9_while_sending_then_restart_sends_the_rest(
    database_url: str, tmp_path: Path, report: Report
) -> None:
    url, total = database_url, sized(1_000, 10_000)
    chats = list(range(80_000, 80_000 + total))
    upgrade(url)
    with database(url) as db:
        queue_replies(db, chats, datetime.now(UTC))
    async with TelegramEmulator(enforce_limits=False) as emu:
        for chat in chats:
            emu.register_chat(chat)
        env = process_env(url, emu, **LEASES)
        first = spawn(role_for(url), free_port(), env, tmp_path)
        await wait_healthy(first)
        await wait_until(lambda: len(emu.sent) >= total // 3, "a third sent", timeout=300)
        kill(first)
        at_crash = len(emu.sent)
        with database(url) as db:
            left = statuses(db)
        second = spawn(role_for(url), free_port(), env, tmp_path)
        try:
            await wait_healthy(second)
            with database(url) as db:
                await wait_until(lambda: settled(db), "every delivery final", timeout=600)
                ended = statuses(db)
        finally:
            await stop(second)
    received = {r.chat_id for r in emu.sent}
    lost, duplicated = total - len(received), duplicates(emu)
    stuck, exceptions = sum(ended[s] for s in NOT_FINAL), tracebacks(tmp_path)
    report("crash-sending", db=url.split(":")[0], deliveries=total, sent_before_kill=at_crash,
           left_at_kill=dict(left), lost=lost, duplicated=duplicated, stuck=stuck,
           ended=dict(ended), exceptions=exceptions)  # fmt: skip
    assert lost == 0 and received == set(chats) and exceptions == 0
    assert duplicated <= 1, "one crash, one sender process: at most one duplicate"
    assert dict(ended) == {"sent": total}


async def burst(emu: TelegramEmulator, users: list[int]) -> None:
    """Every user writes /start at once (webhook deliveries retry until answered)."""
    await asyncio.gather(*(emu.user_sends_command(u, "start") for u in users))


def answered(emu: TelegramEmulator, users: list[int]) -> Callable[[], int]:
    return lambda: sum(1 for u in users if emu.messages_to(u))


def inbound_stored(db: Database) -> int:
    query = select(func.count(func.distinct(MessageLog.external_id))).where(
        MessageLog.channel == "telegram", MessageLog.direction == "in"
    )
    return int(db.run_sync(lambda s: s.execute(query).scalar_one()))


@pytest.mark.parametrize(
    ("database_url", "mode"),
    [("sqlite", "polling"), ("sqlite", "webhook"), ("postgres", "polling")],
    indirect=["database_url"],
)
async def test_kill_9_during_a_burst_of_starts_then_every_student_is_answered(
    database_url: str, mode: str, tmp_path: Path, report: Report
) -> None:
    url, count = database_url, sized(150, 500)
    users = list(range(90_000, 90_000 + count))
    upgrade(url)
    async with TelegramEmulator(enforce_limits=False) as emu:
        emu.webhook_retry_seconds = 0.2  # as Telegram does, until the webhook answers 2xx
        for user in users:
            emu.register_chat(user)

        def env_for(port: int) -> dict[str, str]:
            if mode == "polling":
                return process_env(url, emu, **LEASES)
            return process_env(url, emu, **LEASES, telegram__mode=mode,
                               telegram__webhook_secret=SECRET,
                               public_url=f"http://127.0.0.1:{port}")  # fmt: skip

        port = free_port()
        first = spawn(role_for(url), port, env_for(port), tmp_path)
        await wait_healthy(first)
        sending = asyncio.create_task(burst(emu, users))
        await wait_until(lambda: answered(emu, users)() >= 25, "the first answers", timeout=120)
        kill(first)
        at_crash = answered(emu, users)()
        port = free_port()
        second = spawn(role_for(url), port, env_for(port), tmp_path)
        try:
            await wait_healthy(second)
            await asyncio.wait_for(sending, 120)  # every update was taken (webhook: 2xx)
            await wait_until(lambda: answered(emu, users)() == count, "every student answered",
                             timeout=300)  # fmt: skip
            with database(url) as db:
                await wait_until(lambda: settled(db), "every delivery final", timeout=120)
                stored, ended = inbound_stored(db), statuses(db)
        finally:
            await stop(second)
    duplicated, exceptions = duplicates(emu), tracebacks(tmp_path)
    report("crash-inbound", db=url.split(":")[0], mode=mode, students=count,
           answered_before_kill=at_crash, inbound_stored=stored, lost=count - stored,
           unanswered=count - answered(emu, users)(), duplicated=duplicated,
           ended=dict(ended), exceptions=exceptions)  # fmt: skip
    assert stored == count, "every /start stored once"
    assert exceptions == 0
    assert duplicated <= 1
    assert set(ended) <= {"sent", "delivered"}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_kill_9_during_a_burst_of_texts_then_the_sweep_answers_every_stored_one(
    database_url: str, tmp_path: Path, report: Report
) -> None:
    """Twilio does not resend an inbound text: what we acknowledged (stored, 200) must be
    answered, by the background task or, after a crash, by the inbox sweep."""
    url, count = database_url, sized(60, 300)
    phones = [f"+1312555{n:04d}" for n in range(count)]
    upgrade(url)
    async with TelegramEmulator(enforce_limits=False) as tg, TwilioEmulator(
        rate_per_sender=1000
    ) as sms:

        def env_for(port: int) -> dict[str, str]:
            return process_env(url, tg, public_url=f"http://127.0.0.1:{port}",
                               twilio__account_sid=sms.account_sid,
                               twilio__auth_token=sms.auth_token, twilio__from_number=OUR_NUMBER,
                               twilio__api_base=sms.base_url, twilio__rate_per_second="500",
                               twilio__inbox_sweep_seconds="1")  # fmt: skip

        acknowledged: list[str] = []

        async def text(port: int, phone: str) -> None:
            try:
                status = await sms.send_inbound(f"http://127.0.0.1:{port}/sms/inbound",
                                                from_=phone, to=OUR_NUMBER, body="hi")  # fmt: skip
            except ConnectionError:
                return  # the process was gone: Twilio got no answer (and gives up)
            if status == 200:
                acknowledged.append(phone)

        port = free_port()
        first = spawn(role_for(url), port, env_for(port), tmp_path)
        await wait_healthy(first)
        texting = asyncio.gather(*(text(port, phone) for phone in phones))
        # Killed while texts still arrive: some stored and not yet handled, some not taken.
        await wait_until(lambda: len(acknowledged) >= count // 3, "texts arriving", timeout=120)
        kill(first)
        await texting
        answered_at_kill = sum(1 for p in acknowledged if sms.messages_to(p))
        # The narrowest window, stored and acknowledged but not yet handled, is hard to hit
        # with a kill; rows as it leaves them are added, from numbers of their own.
        stranded = [f"+1415555{n:04d}" for n in range(sized(10, 50))]
        with database(url) as db:
            db.run_sync(lambda s: [store_inbound(s, f"SM{n:032x}", phone, OUR_NUMBER, "hi",
                                                 datetime.now(UTC) - timedelta(seconds=5))
                                   for n, phone in enumerate(stranded)])  # fmt: skip
            unprocessed = inbox_unprocessed(db)
        acknowledged += stranded
        port = free_port()
        second = spawn(role_for(url), port, env_for(port), tmp_path)
        try:
            await wait_healthy(second)
            await wait_until(lambda: all(sms.messages_to(p) for p in acknowledged),
                             "every acknowledged text answered", timeout=120)  # fmt: skip
            with database(url) as db:
                await wait_until(lambda: inbox_unprocessed(db) == 0, "inbox swept", timeout=60)
        finally:
            await stop(second)
    sent_twice = sum(n - 1 for n in Counter((m.to, m.body) for m in sms.messages).values())
    report("crash-sms-inbound", texts=count, acknowledged=len(acknowledged) - len(stranded),
           stranded_rows_added=len(stranded),
           answered_before_kill=answered_at_kill, left_for_the_sweep=unprocessed,
           unanswered=sum(1 for p in acknowledged if not sms.messages_to(p)),
           duplicated=sent_twice, exceptions=tracebacks(tmp_path))  # fmt: skip
    assert all(len(sms.messages_to(p)) >= 1 for p in acknowledged)
    assert sent_twice <= 1


def inbox_unprocessed(db: Database) -> int:
    query = select(func.count()).select_from(SmsInbox).where(SmsInbox.processed_at.is_(None))  # type: ignore[union-attr]
    return int(db.run_sync(lambda s: s.execute(query).scalar_one()))
