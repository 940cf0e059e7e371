"""Planned nudges are rendered by the sender's claims, not by the planning run.

The service plans with `Planner(render_on_claim=True)`: a planning run only inserts `planned`
rows, and each drain renders a claim's worth before it claims due rows. On SQLite and on a real
PostgreSQL server.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import scheduler.render_batch
from bot.app import Runtime, build_runtime
from bot.clock import FakeClock
from bot.messages import Reply
from storage.chat_opt_outs import opt_out_chat
from storage.outbox import add_replies
from tests.conftest import make_settings
from tests.fakes import RecordingSender
from tests.nudge_world import add_event, add_student, deliveries

MORNING = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)  # 09:00 in New York
CAMPAIGNS = """
campaigns:
  - id: missed
    scenario: class_missed
    trigger: {event: {type: class_missed, delay: 1h}}
    channels: [telegram]
    holdout: 0.0
    expires_after: 2d
    attribution: {target: class_attended, window: 7d}
"""
World = tuple[Runtime, FakeClock, RecordingSender]


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    (tmp_path / "c.yaml").write_text(CAMPAIGNS)
    clock = FakeClock(MORNING)
    tg = RecordingSender("telegram")
    settings = make_settings(database_url, nudges={"campaigns_file": tmp_path / "c.yaml"})
    runtime = build_runtime(settings, clock=clock, senders={"telegram": tg})
    yield runtime, clock, tg
    runtime.db.close()


async def plan(runtime: Runtime) -> None:
    assert runtime.nudges is not None
    report = await runtime.nudges.plan_tick()
    assert report.rendered == 0  # left to the sender


async def test_a_planning_run_leaves_rendering_to_the_sender(world: World) -> None:
    runtime, _clock, tg = world
    ana = add_student(runtime, "Ana Ruiz", channels=("telegram",))
    add_event(runtime, ana, "class_missed", MORNING - timedelta(hours=2), ref="c1",
              payload={"title": "Algebra 2"})
    await plan(runtime)
    [row] = deliveries(runtime, ana.id)
    assert (row.status, row.text, row.meta) == ("planned", "", {})
    assert await runtime.dispatcher.drain() == 1
    [sent] = tg.sent
    assert "Ana" in sent.reply.text and "Algebra 2" in sent.reply.text
    [row] = deliveries(runtime, ana.id)
    assert row.status == "sent" and row.text == sent.reply.text
    assert row.meta["template"] and row.meta["link"] in sent.reply.text
    assert row.due_at == MORNING - timedelta(hours=1)  # fired an hour after the class
    assert row.expires_at == MORNING + timedelta(days=2) - timedelta(hours=1)


async def test_a_nudge_rendered_into_later_active_hours_waits_for_them(world: World) -> None:
    runtime, clock, tg = world
    ben = add_student(runtime, "Ben", channels=("telegram",))
    for day in range(1, 7):  # logs in around 19:00 New York time
        add_event(runtime, ben, "login", MORNING - timedelta(days=day) + timedelta(hours=10))
    add_event(runtime, ben, "class_missed", MORNING - timedelta(hours=2), ref="c1")
    await plan(runtime)
    assert await runtime.dispatcher.drain() == 0 and tg.sent == []
    [row] = deliveries(runtime, ben.id)
    evening = datetime(2026, 11, 24, 23, 0, tzinfo=UTC)  # 18:00, the start of his hours
    assert (row.status, row.due_at, row.lease_owner) == ("pending", evening, None)
    assert row.text
    clock.set(evening - timedelta(minutes=1))
    assert await runtime.dispatcher.drain() == 0
    clock.set(evening)
    assert await runtime.dispatcher.drain() == 1 and len(tg.sent) == 1


async def test_a_row_that_cannot_be_rendered_does_not_stop_the_sending(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime, _clock, tg = world
    cy = add_student(runtime, "Cy", channels=("telegram",))
    add_event(runtime, cy, "class_missed", MORNING - timedelta(hours=2), ref="c1")
    await plan(runtime)

    def broken(*_args: object) -> None:
        raise ValueError("a template that does not format")

    def reply(session: object) -> None:
        add_replies(session, person_id=cy.id, channel="telegram",  # type: ignore[arg-type]
                    address=cy.addresses["telegram"], replies=[Reply("Your answer")],
                    now=MORNING, kind="reply")

    runtime.db.run_sync(reply)
    monkeypatch.setattr(scheduler.render_batch, "_render_row", broken)
    assert await runtime.dispatcher.drain() == 1
    assert [o.reply.text for o in tg.sent] == ["Your answer"]
    [nudge] = deliveries(runtime, cy.id)
    assert nudge.status == "planned"  # rendered again by the next drain
    monkeypatch.undo()
    assert await runtime.dispatcher.drain() == 1 and len(tg.sent) == 2


async def test_a_stop_cancels_planned_nudges_before_they_are_rendered(world: World) -> None:
    runtime, _clock, tg = world
    di = add_student(runtime, "Di", channels=("telegram",))
    add_event(runtime, di, "class_missed", MORNING - timedelta(hours=2), ref="c1")
    await plan(runtime)
    cancelled = runtime.db.run_sync(
        lambda s: opt_out_chat(s, "telegram", di.addresses["telegram"], MORNING))
    assert cancelled == 1
    assert await runtime.dispatcher.drain() == 0 and tg.sent == []
    [row] = deliveries(runtime, di.id)
    assert (row.status, row.error) == ("cancelled", "opted_out")
