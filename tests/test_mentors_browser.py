"""A student and a mentor meet in two real web chat pages (headless Chromium, one served runtime
seeded with the demo cohort): Sam Lee asks for a human, Dana Brooks (the demo mentor) takes the
request from the card on her page, they write to each other, and Dana hands Sam back to the bot.
Each page learns of what the other person did only by polling its inbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Page, async_playwright, expect
from sqlalchemy import select

from bot.app import Runtime
from storage.tables import Delivery, Escalation, Identity, Person
from tests.live_server import serve
from tests.test_webchat_browser import ARGS, CHROMIUM, demo_runtime

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
POLLED = 10_000  # ms: the page polls its inbox every 2 s; what the other person caused comes so


@pytest.fixture
async def pages(tmp_path: Path) -> AsyncIterator[tuple[Page, Page, Runtime]]:
    """Sam's page and Dana's page: two browser contexts, one runtime."""
    if CHROMIUM is None:
        pytest.fail("Chromium is not installed: apt-get install chromium (.ci/run does)")
    runtime = demo_runtime(tmp_path / "desk.sqlite3")
    async with serve(runtime) as base, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            sam = await (await browser.new_context()).new_page()
            dana = await (await browser.new_context()).new_page()
            for tab in (sam, dana):
                await tab.goto(base + "/chat")
            yield sam, dana, runtime
        finally:
            await browser.close()
    runtime.db.close()


async def say(tab: Page, text: str) -> None:
    await tab.fill("#text", text)
    await tab.press("#text", "Enter")


def escalations(runtime: Runtime) -> list[Escalation]:
    query = select(Escalation).order_by(Escalation.id)
    return runtime.db.run_sync(lambda s: list(s.execute(query).scalars()))


def webchat_address(runtime: Runtime, name: str) -> str:
    query = (
        select(Identity.address)
        .join(Person, Person.id == Identity.person_id)
        .where(Person.display_name == name, Identity.channel == "webchat")
    )
    return runtime.db.run_sync(lambda s: s.execute(query).scalar_one())


def kinds_to(runtime: Runtime, address: str) -> list[str]:
    query = select(Delivery.kind).where(Delivery.address == address).order_by(Delivery.id)
    return runtime.db.run_sync(lambda s: list(s.execute(query).scalars()))


async def converse(sam: Page, dana: Page, runtime: Runtime) -> int:
    """The whole conversation, checked step by step; returns the request's number."""
    sam_log, dana_log = sam.locator("#log"), dana.locator("#log")
    await dana.get_by_role("button", name="Dana Brooks").click()  # the mentor is on her page
    await expect(dana_log).to_contain_text("You are not holding any conversation")
    await sam.get_by_role("button", name="Sam Lee").click()
    await expect(sam_log).to_contain_text("I'm your mentor bot")
    await sam.locator("button[data-choice='no']").last.click()  # the study reminders question
    await expect(sam_log).to_contain_text("no study reminders")

    await say(sam, "I want to talk to a human")
    await expect(sam_log).to_contain_text("I've asked a mentor to get back to you (request #")
    [row] = escalations(runtime)
    number = row.id
    take = dana.locator(f"button[data-choice='take:{number}']")
    await expect(take).to_be_visible(timeout=POLLED)
    await expect(dana_log).to_contain_text(f"Request #{number} (normal): mentor_request")
    await expect(dana.locator(f"button[data-choice='pass:{number}']")).to_be_visible()

    await take.click()
    await expect(dana_log).to_contain_text(f"You have taken request #{number} (Sam Lee)")
    await expect(sam_log).to_contain_text(
        "Dana (mentor) has joined the conversation", timeout=POLLED)

    await say(sam, "my quiz will not submit")
    await expect(dana_log).to_contain_text(
        f"Sam (#{number}): my quiz will not submit", timeout=POLLED)
    sam_address = webchat_address(runtime, "Sam Lee")
    # "hi" and the reminders question, their answer, the request, the joined notice; the bot
    # said nothing to Sam's message.
    assert kinds_to(runtime, sam_address) == ["reply"] * 4 + ["relay"]

    await say(dana, "Which browser are you using?")
    await expect(sam_log).to_contain_text(
        "Dana (mentor): Which browser are you using?", timeout=POLLED)

    await say(dana, "/release")
    await expect(dana_log).to_contain_text(f"Request #{number} is closed (released)")
    await expect(sam_log).to_contain_text(
        "Dana has handed the conversation back to me", timeout=POLLED)
    [row] = escalations(runtime)
    assert row.status == "released"
    return number or 0


async def test_a_student_and_a_mentor_talk_through_two_pages(
    pages: tuple[Page, Page, Runtime],
) -> None:
    sam, dana, runtime = pages
    await converse(sam, dana, runtime)
    # Back with the bot: a question is answered on Sam's page again.
    await say(sam, "where is the recording of the class")
    await expect(sam.locator("#log")).to_contain_text("Did this help?")


async def test_each_page_shows_only_the_messages_sent_to_its_person(
    pages: tuple[Page, Page, Runtime],
) -> None:
    """PRODUCT BUG (bot/channels/webchat.py, POST /chat/api/messages): the answer to a post
    lists every delivery of the turn, including the ones the desk addressed to someone else
    (`handled.outbound` holds `ctx.extra`), and the page shows them all as its own. So Sam's
    page shows Dana's mentor card (its Take/Pass buttons, his consent state and any of the
    mentors' private notes) and his own relayed message; Dana's page shows the notices and
    relays meant for Sam."""
    sam, dana, runtime = pages
    number = await converse(sam, dana, runtime)
    on_sams_page = await sam.locator(".msg.bot").all_inner_texts()
    on_danas_page = await dana.locator(".msg.bot").all_inner_texts()
    leaked_to_sam = [t for t in on_sams_page
                     if f"Request #{number} (" in t or t.startswith(f"Sam (#{number}):")]
    leaked_to_dana = [t for t in on_danas_page
                      if "(mentor) has joined" in t or t.startswith("Dana (mentor):")
                      or "handed the conversation back to me" in t]
    take_on_sams_page = await sam.locator(f"button[data-choice='take:{number}']").count()
    assert (leaked_to_sam, leaked_to_dana, take_on_sams_page) == ([], [], 0), (
        f"messages meant for Dana on Sam's page: {leaked_to_sam}; messages meant for Sam on "
        f"Dana's page: {leaked_to_dana}; Take buttons on Sam's page: {take_on_sams_page}")
