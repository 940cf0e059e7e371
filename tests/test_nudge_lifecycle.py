"""Engagement, cascade, conversion and parallel planners, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from bot.app import Runtime, build_runtime
from bot.channels.base import SendResult
from bot.clock import FakeClock
from bot.web import create_web_app
from scheduler.campaigns import load_campaigns
from scheduler.planner import NudgeConfig, Planner
from storage.database import Database, create_db_engine
from tests.conftest import make_settings
from tests.fakes import RecordingSender
from tests.nudge_world import add_event, add_student, deliveries

MORNING = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)  # 09:00 in New York
CAMPAIGNS = """
campaigns:
  - id: missed
    scenario: class_missed
    trigger: {event: {type: class_missed, delay: 1h}}
    channels: [telegram, webchat]
    cascade: {to: sms, after: 24h}
    holdout: 0.0
    expires_after: 3d
    attribution: {target: class_attended, window: 7d}
"""
World = tuple[Runtime, FakeClock, RecordingSender, RecordingSender]


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    (tmp_path / "c.yaml").write_text(CAMPAIGNS)
    clock = FakeClock(MORNING)
    tg, sms = RecordingSender("telegram"), RecordingSender("sms")
    settings = make_settings(database_url, nudges={"campaigns_file": tmp_path / "c.yaml"},
                             api_token="t0ken-for-tests")
    runtime = build_runtime(settings, clock=clock, senders={"telegram": tg, "sms": sms})
    yield runtime, clock, tg, sms
    runtime.db.close()


async def ticks(runtime: Runtime) -> None:
    assert runtime.nudges is not None
    await runtime.nudges.plan_tick()
    await runtime.nudges.lifecycle_tick()
    await runtime.dispatcher.drain()


async def test_cascade_only_without_engagement_then_conversion(world: World) -> None:
    runtime, clock, tg, sms = world
    clicker = add_student(runtime, "Ana", channels=("telegram", "sms"))
    silent = add_student(runtime, "Ben", channels=("telegram", "sms"))
    for student in (clicker, silent):
        add_event(runtime, student, "class_missed", MORNING - timedelta(hours=1), ref="c1")
    await ticks(runtime)
    assert len(tg.sent) == 2 and sms.sent == []
    link = next(o for o in tg.sent if o.person_id == clicker.id).meta["link"]
    client = TestClient(create_web_app(runtime))
    answer = client.get(urlsplit(str(link)).path, follow_redirects=False)
    assert answer.status_code == 302
    utm = parse_qs(urlsplit(answer.headers["location"]).query)
    assert utm["utm_source"] == ["telegram"] and utm["utm_medium"] == ["mentorbot"]
    assert utm["utm_campaign"] == ["missed_20261124"]
    assert utm["utm_content"] == ["class_missed.regular"]
    assert utm["utm_term"] == ["regular.middle"]
    assert client.get("/l/forged-token", follow_redirects=False).status_code == 404
    clock.advance(timedelta(hours=25))
    add_event(runtime, clicker, "class_attended", clock.now() - timedelta(hours=2), ref="c2")
    await ticks(runtime)
    assert [o.person_id for o in sms.sent] == [silent.id]
    [mine] = [r for r in deliveries(runtime, clicker.id) if r.parent_id is None]
    assert mine.engaged_at is not None and mine.outcome == "converted"
    assert mine.delivered_at is not None


async def test_blocked_telegram_falls_back_to_sms_at_once(world: World) -> None:
    runtime, clock, tg, sms = world
    student = add_student(runtime, "Cy", channels=("telegram", "sms"))
    add_event(runtime, student, "class_missed", MORNING - timedelta(hours=1), ref="c1")
    tg.answers.append(SendResult(ok=False, error="Forbidden: bot was blocked", unreachable=True))
    await ticks(runtime)
    clock.advance(timedelta(minutes=5))
    await ticks(runtime)
    assert len(tg.sent) == 1 and [o.person_id for o in sms.sent] == [student.id]


async def test_a_reply_counts_as_engagement(world: World) -> None:
    runtime, clock, _tg, sms = world
    from bot.messages import Inbound

    student = add_student(runtime, "Di", channels=("telegram", "sms"))
    add_event(runtime, student, "class_missed", MORNING - timedelta(hours=1), ref="c1")
    await ticks(runtime)
    await runtime.engine.handle(Inbound("telegram", student.addresses["telegram"], "m1", "ok"))
    clock.advance(timedelta(hours=25))
    await ticks(runtime)
    assert sms.sent == []


def test_two_planners_in_parallel_create_each_nudge_once(world: World, tmp_path: Path) -> None:
    runtime, _clock, _tg, _sms = world
    students = [add_student(runtime, f"S{i}", channels=("telegram",)) for i in range(40)]
    for student in students:
        add_event(runtime, student, "class_missed", MORNING - timedelta(hours=1), ref="c1")
    url = str(runtime.db.engine.url.render_as_string(hide_password=False))
    campaigns = load_campaigns(tmp_path / "c.yaml")
    results: list[int] = []

    def plan() -> None:
        db = Database(create_db_engine(url))  # its own engine: separate connections
        planner = Planner(campaigns, runtime.translator, NudgeConfig(), lambda: ["telegram"])
        results.append(planner.run(db, MORNING).total)
        db.close()

    threads = [threading.Thread(target=plan) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rows = deliveries(runtime)
    assert sorted(results) == [0, 0, 40] and len(rows) == 40
    assert len({r.dedupe_key for r in rows}) == 40 and all(r.status == "pending" for r in rows)
