"""/goals, /plan and /progress as transcripts: numbered answers (SMS), typed words, and who
may use them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from bot.app import Runtime, build_runtime
from bot.clock import FakeClock
from storage.tables import Goal, Person, StudyPlan
from tests.conftest import make_settings
from tests.transcript import add_student


@pytest.fixture
def runtime(sqlite_url: str, clock: FakeClock) -> Iterator[Runtime]:
    rt = build_runtime(make_settings(sqlite_url), clock=clock)
    yield rt
    rt.db.close()


def _all(runtime: Runtime, model: type) -> list:
    return runtime.db.run_sync(lambda s: list(s.execute(select(model)).scalars()))


async def test_numbered_answers_pick_goals_and_accept_the_plan(runtime: Runtime) -> None:
    ana = add_student(runtime, "Ana", channel="sms", address="+12125550101")
    [menu] = await ana.says("/goals")
    first = menu.choices[0]
    await ana.says("1")
    assert [g.kind for g in _all(runtime, Goal)] == [first.id.split(":")[1]]
    await ana.says("plan")  # the plain word works like the command
    assert ana.last().choices[0].id == "accept"
    await ana.says("1")
    assert [p.status for p in _all(runtime, StudyPlan)] == ["accepted"]
    [progress] = await ana.says("/progress")
    assert "Goals this week: 0 of 1 met" in progress.text


async def test_a_question_leaves_the_menu_and_is_answered(runtime: Runtime) -> None:
    ana = add_student(runtime, "Ana")
    await ana.says("/goals")
    [answer] = await ana.says("thanks")
    assert "welcome" in answer.text.lower()
    assert _all(runtime, Goal) == []


async def test_goals_are_for_students(runtime: Runtime) -> None:
    pat = add_student(runtime, "Pat")
    runtime.db.run_sync(
        lambda s: setattr(s.execute(select(Person)).scalars().one(), "role", "parent")
    )
    replies = await pat.says("/goals")
    assert any("for students" in r.text for r in replies)
    assert _all(runtime, Goal) == []
