"""/goals and /plan end to end over the Telegram emulator (real HTTP, inline buttons).

Waits are on states (the emulator's messages, the database), never on time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from storage.tables import Goal, StudyPlan
from tests.telegram_world import World, telegram_world
from tests.transcript import add_student

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    path: Path = tmp_path_factory.mktemp("goals") / "tg.sqlite3"
    async with telegram_world(f"sqlite:///{path}", "polling", per_chat_per_second=5) as w:
        yield w


def _student(world: World, name: str) -> int:
    user_id = world.new_user_id()
    add_student(world.runtime, name, channel="telegram", address=str(user_id))
    return user_id


def _rows(world: World, model: type) -> list[Any]:
    return world.runtime.db.run_sync(lambda s: list(s.execute(select(model)).scalars()))


async def _press(world: World, uid: int, starts: str, seen: int) -> int:
    """Press the first button of the latest message whose choice id starts with `starts`;
    wait for the bot's answer; return how many messages the chat has then."""
    latest = world.emu.messages_to(uid)[-1]
    markup = latest.reply_markup or {}
    button = next(b for row in markup.get("inline_keyboard", []) for b in row
                  if b["callback_data"].startswith("c:" + starts))  # fmt: skip
    await world.emu.user_presses_button(uid, latest.message_id, button["callback_data"])
    return len(await world.replies(uid, seen + 1))


async def test_goals_over_telegram(world: World) -> None:
    uid = _student(world, "Gwen")
    await world.emu.user_sends_command(uid, "goals")
    [menu] = await world.replies(uid, 1)
    assert "No goals yet for this week" in (menu.text or "")
    seen = await _press(world, uid, "set:attend_all", 1)
    await world.replies(uid, seen + 1)  # the confirmation, then the menu again
    assert "Attend every class" in (world.emu.messages_to(uid)[-1].text or "")
    seen = await _press(world, uid, "own", len(world.emu.messages_to(uid)))
    await world.emu.user_sends_text(uid, "finish the recursion chapter")
    await world.replies(uid, seen + 2)
    goals = {(g.kind, g.text) for g in _rows(world, Goal)}
    assert goals == {("attend_all", None), ("own", "finish the recursion chapter")}
    seen = await _press(world, uid, "checkin:", len(world.emu.messages_to(uid)))
    assert "Well done" in (world.emu.messages_to(uid)[seen - 1].text or "")


async def test_plan_over_telegram(world: World) -> None:
    uid = _student(world, "Hugo")
    await world.emu.user_sends_command(uid, "plan")
    [plan] = await world.replies(uid, 1)
    assert "Proposed plan for this week" in (plan.text or "")
    seen = await _press(world, uid, "accept", 1)
    await world.replies(uid, seen + 1)
    [row] = [p for p in _rows(world, StudyPlan) if p.accepted_at is not None]
    seen = await _press(world, uid, "move:", len(world.emu.messages_to(uid)))
    assert "Which day" in (world.emu.messages_to(uid)[-1].text or "")
    days = [b["callback_data"] for r in world.emu.messages_to(uid)[-1].reply_markup[
        "inline_keyboard"] for b in r if b["callback_data"].startswith("c:day:")]  # fmt: skip
    seen = await _press(world, uid, days[-1][2:], seen)
    await world.replies(uid, seen + 1)
    assert any("Moved to" in (m.text or "") for m in world.emu.messages_to(uid))
    [moved] = [p for p in _rows(world, StudyPlan) if p.id == row.id]
    assert days[-1].removeprefix("c:day:") in {item["day"] for item in moved.items}
