"""Roles in one process: what web, worker and all start, and a graceful stop of the send path."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.app import Runtime, build_runtime
from bot.channels.base import NOT_STARTED, Begin, SendResult
from bot.clock import FakeClock
from bot.messages import Outbound, Reply
from bot.roles import Role
from bot.settings import SchedulerSettings
from bot.web import create_health_app, create_web_app
from scheduler.runner import Ticker
from storage.outbox import add_replies
from storage.tables import Delivery
from tests.conftest import make_settings

NOON = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)


def test_each_role_runs_its_own_parts_and_all_runs_everything() -> None:
    assert [Role.WEB.runs(part) for part in Role] == [True, True, False]
    assert [Role.WORKER.runs(part) for part in Role] == [True, False, True]
    assert [Role.ALL.runs(part) for part in Role] == [True, True, True]
    assert (Role.WEB.serves_http, Role.WEB.works_schedule) == (True, False)
    assert (Role.WORKER.serves_http, Role.WORKER.works_schedule) == (False, True)


@pytest.mark.parametrize(
    ("mode", "role", "runs_telegram"),
    [
        ("polling", Role.WORKER, True),
        ("polling", Role.WEB, False),
        ("webhook", Role.WEB, True),
        ("webhook", Role.WORKER, False),
        ("polling", Role.ALL, True),
    ],
)
def test_telegram_polls_in_a_worker_and_registers_its_webhook_in_the_web(
    sqlite_url: str, mode: str, role: Role, runs_telegram: bool
) -> None:
    settings = make_settings(
        sqlite_url, telegram={"token": "1:T", "mode": mode, "webhook_secret": "s3cret"}
    )
    runtime = build_runtime(settings, role=role)
    try:
        started = {type(s).__name__ for s in runtime.services}
        idle = {type(s).__name__ for s in runtime.idle_services}
        assert ("TelegramService" in started) is runs_telegram
        assert ("TelegramService" in idle) is not runs_telegram
        assert "telegram" in runtime.dispatcher.channels  # every role sends
    finally:
        runtime.db.close()


@pytest.fixture
def scheduled(sqlite_url: str, request: pytest.FixtureRequest) -> Iterator[Runtime]:
    settings = make_settings(sqlite_url, scheduler={"enabled": True, "tick_seconds": 60})
    runtime = build_runtime(settings, role=request.param)
    yield runtime
    runtime.db.close()


@pytest.mark.parametrize("scheduled", [Role.WORKER], indirect=True)
def test_a_worker_serves_health_and_metrics_only_and_runs_the_scheduler(
    scheduled: Runtime,
) -> None:
    with TestClient(create_health_app(scheduled)) as client:
        health = client.get("/healthz").json()
        assert health["status"] == "ok" and health["role"] == "worker"
        assert "mentorbot_outbound_messages" in client.get("/metrics").text
        hidden = [client.get(path).status_code for path in ("/chat", "/docs", "/openapi.json")]
        assert hidden == [404, 404, 404]
        assert scheduled.ticker.running
    assert not scheduled.ticker.running


@pytest.mark.parametrize("scheduled", [Role.WEB], indirect=True)
def test_the_web_serves_everything_and_runs_no_scheduler(scheduled: Runtime) -> None:
    with TestClient(create_web_app(scheduled)) as client:
        assert client.get("/healthz").json()["role"] == "web"
        assert client.get("/chat").status_code == 200
        assert not scheduled.ticker.running


@dataclass
class GatedSender:
    """Holds its first send until released, as a slow provider would."""

    name: str = "telegram"
    started: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    sent: list[int] = field(default_factory=list)

    async def send(self, outbound: Outbound, begin: Begin) -> SendResult:
        if not await begin():
            return NOT_STARTED
        self.started.set()
        await self.release.wait()
        self.sent.append(outbound.delivery_id)
        return SendResult(ok=True, external_id=f"m{outbound.delivery_id}")


def queue_replies(runtime: Runtime, address: str, count: int) -> list[int]:
    replies = [Reply(f"part {n}") for n in range(count)]
    outbound = runtime.db.run_sync(lambda s: add_replies(
        s, person_id=None, channel="telegram", address=address, replies=replies,
        now=runtime.clock.now()))  # fmt: skip
    return [o.delivery_id for o in outbound]


def statuses(runtime: Runtime) -> dict[int, tuple[str, int]]:
    rows = runtime.db.run_sync(lambda s: s.execute(
        select(Delivery.id, Delivery.status, Delivery.attempts)).all())  # fmt: skip
    return {row.id: (row.status, row.attempts) for row in rows}


async def test_a_stop_lets_the_send_in_flight_finish_and_releases_the_rest(
    sqlite_url: str,
) -> None:
    sender = GatedSender()
    runtime = build_runtime(
        make_settings(sqlite_url), clock=FakeClock(NOON), senders={"telegram": sender}
    )
    first, *rest = queue_replies(runtime, "42", 3)  # one chat: sent one after another
    drain = asyncio.create_task(runtime.dispatcher.drain())
    await asyncio.wait_for(sender.started.wait(), 5)
    runtime.dispatcher.stop_sending()
    sender.release.set()
    assert await asyncio.wait_for(drain, 5) == 3  # all three were claimed
    assert sender.sent == [first]
    # Released rows carry no attempt: no provider call was made for them.
    assert statuses(runtime) == {first: ("sent", 1)} | {i: ("pending", 0) for i in rest}
    runtime.db.close()


@dataclass
class SlowDrain:
    release: asyncio.Event = field(default_factory=asyncio.Event)
    entered: asyncio.Event = field(default_factory=asyncio.Event)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    outcome: str = "running"

    async def drain(self, limit: int = 200) -> int:
        self.entered.set()
        try:
            await self.release.wait()
            self.outcome = "finished"
            return 1
        except asyncio.CancelledError:
            self.outcome = "cancelled"
            raise
        finally:
            self.done.set()


@pytest.mark.parametrize(("released", "outcome"), [(True, "finished"), (False, "cancelled")])
async def test_the_ticker_stop_waits_for_a_running_job_within_its_grace(
    released: bool, outcome: str
) -> None:
    job = SlowDrain()
    ticker = Ticker(job, SchedulerSettings(enabled=True, tick_seconds=0.01))
    ticker.start()
    await asyncio.wait_for(job.entered.wait(), 5)
    stopping = asyncio.create_task(ticker.stop(grace=5 if released else 0.05))
    await asyncio.sleep(0)  # the stop has paused the scheduler and is waiting for the job
    assert job.outcome == "running"
    if released:
        job.release.set()
    await asyncio.wait_for(stopping, 10)
    assert not ticker.running
    await asyncio.wait_for(job.done.wait(), 5)  # a cancelled job learns it on its next turn
    assert job.outcome == outcome
