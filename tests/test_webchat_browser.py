"""The web chat is a real page: headless Chromium drives it through the consent workflow."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Page, async_playwright, expect
from sqlalchemy import select

from bot.app import Runtime, build_runtime
from bot.clock import SystemClock
from storage.demo import seed_demo
from storage.tables import ConsentRecord, KnowledgeAnswer
from tests.conftest import make_settings
from tests.live_server import serve

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


async def say(tab: Page, text: str) -> None:
    """Type a message into the web chat and send it, as a person would."""
    await tab.fill("#text", text)
    await tab.press("#text", "Enter")


def demo_runtime(path: Path) -> Runtime:
    """The app as `make run` starts it for a newcomer: the demo cohort, choosable in the page."""
    settings = make_settings(f"sqlite:///{path}", demo_chat=True)
    runtime = build_runtime(settings, clock=SystemClock())
    runtime.db.run_sync(lambda s: seed_demo(s, runtime.clock.now()))
    return runtime


@pytest.fixture
async def page(tmp_path: Path) -> AsyncIterator[tuple[Page, Runtime]]:
    if CHROMIUM is None:
        pytest.fail("Chromium is not installed: apt-get install chromium (.ci/run does)")
    runtime = demo_runtime(tmp_path / "chat.sqlite3")
    async with serve(runtime) as base, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = await browser.new_page()
        await page.goto(base + "/chat")
        yield page, runtime
        await browser.close()


async def test_a_visitor_consents_through_the_page(page: tuple[Page, Runtime]) -> None:
    tab, runtime = page
    await expect(tab.locator("#channels")).to_contain_text("webchat")
    await expect(tab.locator("#channels")).to_contain_text("telegram (not configured)")
    await tab.get_by_role("button", name="Ana García").click()
    log = tab.locator("#log")
    await expect(log).to_contain_text("free personal coach")
    await say(tab, "+44 7911 123456")
    await expect(log).to_contain_text("only text US phone numbers")
    await tab.locator("button[data-choice='other']").last.click()
    await say(tab, "(415) 555-2671")
    await expect(log).to_contain_text("Do you agree")
    await tab.locator("button[data-choice='yes']").last.click()
    await expect(log).to_contain_text("signed up for coaching")
    records = runtime.db.run_sync(
        lambda s: s.execute(
            select(ConsentRecord.decision, ConsentRecord.phone_e164, ConsentRecord.channel)
        ).all()
    )
    assert records == [("granted", "+14155552671", "webchat")]


async def test_an_ineligible_student_is_not_asked(page: tuple[Page, Runtime]) -> None:
    tab, runtime = page
    await tab.get_by_role("button", name="Sam Lee").click()
    log = tab.locator("#log")
    await expect(log).to_contain_text("I'm your mentor bot")
    await expect(log).to_contain_text("May we send you study reminders?")  # instead of coaching
    await expect(log).not_to_contain_text("phone number")
    await tab.locator("button[data-choice='yes']").last.click()
    await expect(log).to_contain_text("we'll send you study reminders")
    records = runtime.db.run_sync(
        lambda s: s.execute(select(ConsentRecord.purpose, ConsentRecord.decision)).all()
    )
    assert [tuple(r) for r in records] == [("nudges", "granted")]


async def test_a_question_is_answered_and_a_crisis_gets_help_first(
    page: tuple[Page, Runtime],
) -> None:
    tab, runtime = page
    await tab.get_by_role("button", name="Sam Lee").click()  # not asked about coaching
    log = tab.locator("#log")
    await expect(log).to_contain_text("I'm your mentor bot")
    await tab.locator("button[data-choice='no']").last.click()  # no study reminders
    await expect(log).to_contain_text("no study reminders")
    await say(tab, "i missed class yesterday what should i do")
    await expect(log).to_contain_text("Did this help?")
    await tab.locator("button[data-choice='kb_yes']").last.click()
    await expect(log).to_contain_text("glad it helped")
    await say(tab, "i feel hopeless and want to hurt myself")
    await expect(log).to_contain_text("988")
    await expect(log).to_contain_text("Are you safe right now?")
    helpful = runtime.db.run_sync(
        lambda s: s.execute(select(KnowledgeAnswer.entry_id, KnowledgeAnswer.helpful)).all()
    )
    assert [tuple(r) for r in helpful] == [("missed_class", True)]


async def test_a_question_at_the_phone_step_then_the_phone_again(
    page: tuple[Page, Runtime],
) -> None:
    tab, _runtime = page
    await tab.get_by_role("button", name="Ana García").click()
    log = tab.locator("#log")
    await expect(log).to_contain_text("free personal coach")
    await say(tab, "why do you need my phone number?")
    await expect(log).to_contain_text("Please send your US mobile phone number.")
    await expect(log).not_to_contain_text("couldn't read that")
    await say(tab, "(415) 555-2671")
    await expect(log).to_contain_text("Do you agree")


@pytest.mark.parametrize(
    "name,text,opening",
    [
        ("Ana García", "i want to kill myself", "Are you safe right now?"),
        ("Lucía Torres", "quiero suicidarme", "¿Estás a salvo ahora mismo?"),
        ("Ravi Kumar", "मैं आत्महत्या करना चाहता हूँ", "क्या आप अभी सुरक्षित हैं?"),
        ("Olga Petrova", "я хочу покончить с собой", "Вы сейчас в безопасности?"),
    ],
)
async def test_crisis_words_get_the_crisis_lines_in_each_language(
    page: tuple[Page, Runtime], name: str, text: str, opening: str
) -> None:
    tab, _runtime = page
    await tab.get_by_role("button", name=name).click()
    log = tab.locator("#log")
    await expect(log.locator(":scope > *")).not_to_have_count(0)
    await say(tab, text)
    await expect(log).to_contain_text("988")
    await expect(log).to_contain_text(opening)
