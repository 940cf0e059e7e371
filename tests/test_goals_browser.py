"""/goals and /plan in the web chat, driven by headless Chromium like a student would."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Page, async_playwright, expect
from sqlalchemy import select

from bot.app import Runtime
from storage.tables import Goal, StudyPlan
from tests.live_server import serve
from tests.test_webchat_browser import ARGS, CHROMIUM, demo_runtime, say


@pytest.fixture
async def page(tmp_path: Path) -> AsyncIterator[tuple[Page, Runtime]]:
    if CHROMIUM is None:
        pytest.fail("Chromium is not installed: apt-get install chromium (.ci/run does)")
    runtime = demo_runtime(tmp_path / "chat.sqlite3")
    async with serve(runtime) as base, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        tab = await browser.new_page()
        await tab.goto(base + "/chat")
        yield tab, runtime
        await browser.close()


async def _as_sam(tab: Page) -> None:
    await tab.get_by_role("button", name="Sam Lee").click()  # not asked about coaching
    await expect(tab.locator("#log")).to_contain_text("May we send you study reminders?")
    await tab.locator("button[data-choice='yes']").last.click()
    await expect(tab.locator("#log")).to_contain_text("we'll send you study reminders")


async def test_goals_in_the_web_chat(page: tuple[Page, Runtime]) -> None:
    tab, runtime = page
    await _as_sam(tab)
    log = tab.locator("#log")
    await say(tab, "/goals")
    await expect(log).to_contain_text("No goals yet for this week")
    await tab.locator("button[data-choice='own']").last.click()
    await expect(log).to_contain_text("Write your goal for this week")
    await say(tab, "practise loops every evening")
    await expect(log).to_contain_text("Goal set for this week: practise loops every evening")
    await tab.locator("button[data-choice^='checkin:']").last.click()
    await expect(log).to_contain_text("Well done! ✅ practise loops every evening")
    goals = runtime.db.run_sync(lambda s: s.execute(select(Goal.kind, Goal.text)).all())
    assert [tuple(g) for g in goals] == [("own", "practise loops every evening")]


async def test_plan_in_the_web_chat(page: tuple[Page, Runtime]) -> None:
    tab, runtime = page
    await _as_sam(tab)
    log = tab.locator("#log")
    await say(tab, "/plan")
    await expect(log).to_contain_text("Proposed plan for this week")
    await tab.locator("button[data-choice='accept']").last.click()
    await expect(log).to_contain_text("Plan accepted")
    await tab.locator("button[data-choice='day']").last.click()
    await expect(log).to_contain_text("Which day should your weekly plan come on?")
    await tab.locator("button[data-choice='weekday:6']").last.click()
    await expect(log).to_contain_text("Your weekly plan will now come every Sunday")
    await say(tab, "/progress")
    await expect(log).to_contain_text("Points:")
    plans = runtime.db.run_sync(lambda s: s.execute(select(StudyPlan.status)).scalars().all())
    assert plans == ["accepted"]
