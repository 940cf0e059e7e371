"""/mydata and /forgetme end to end: a JSON document over the Telegram emulator (real HTTP), a
download in the web chat page (headless Chromium), and the goodbye forgotten once it is sent."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import async_playwright, expect
from sqlalchemy import select

from storage.tables import Delivery, MessageLog, Person
from tests.live_server import serve
from tests.telegram_world import World, telegram_world
from tests.test_webchat_browser import ARGS, CHROMIUM, demo_runtime, say
from tests.transcript import add_student

pytestmark = pytest.mark.e2e


@pytest.fixture
async def tg(tmp_path: Path) -> AsyncIterator[World]:
    async with telegram_world(f"sqlite:///{tmp_path / 'tg.sqlite3'}", "polling",
                              per_chat_per_second=5) as world:  # fmt: skip
        yield world


def buttons(record: Any) -> list[dict[str, Any]]:
    return [b for row in (record.reply_markup or {}).get("inline_keyboard", []) for b in row]


async def test_telegram_mydata_sends_the_file_and_forgetme_leaves_no_chat_id(tg: World) -> None:
    uid = tg.new_user_id()
    add_student(tg.runtime, "Rowan Vale", channel="telegram", address=str(uid), eligible=False)
    await tg.emu.user_sends_text(uid, "my parrot ate my homework", first_name="Rowan")
    await tg.emu.user_sends_command(uid, "mydata", first_name="Rowan")
    await tg.emu.wait_for(lambda _r: any(
        r.method == "sendDocument" for r in tg.emu.messages_to(uid)), 5)  # fmt: skip
    # One message: the file, captioned with the summary in the student's language.
    [document] = [r for r in tg.emu.messages_to(uid) if r.method == "sendDocument"]
    assert (document.text or "").startswith("This is what we store")
    assert "Name: Rowan Vale" in (document.text or "")
    held = json.loads(document.params["document_data"])
    assert held["profile"]["display_name"] == "Rowan Vale"
    assert "my parrot ate my homework" in [m["text"] for m in held["messages"]]
    # Erase, from the confirmation's button.
    await tg.emu.user_sends_command(uid, "forgetme", first_name="Rowan")
    confirm = (await tg.emu.wait_for(lambda r: r.chat_id == uid and "Erase everything?" in (
        r.text or "")))[-1]  # fmt: skip
    yes = next(b for b in buttons(confirm) if b["text"] == "Yes")
    await tg.emu.user_presses_button(uid, confirm.message_id, yes["callback_data"])
    await tg.emu.wait_for(lambda r: r.chat_id == uid and "your data is erased" in (r.text or ""))

    def leftovers(session: Any) -> list[str]:
        rows = session.execute(select(Delivery.address, Delivery.text)).all()
        texts = session.execute(select(MessageLog.text)).scalars()
        names = session.execute(select(Person.display_name)).scalars()
        blob = [*(a for a, _ in rows), *(t for _, t in rows), *texts, *names]
        return [v for v in blob if v and (str(uid) in v or "Rowan" in v or "parrot" in v)]

    # The goodbye's row is blanked once its send is recorded: wait for that state.
    await tg.wait_until(lambda: tg.runtime.db.run_sync(leftovers) == [])


@pytest.fixture
async def browser_page(tmp_path: Path) -> AsyncIterator[Any]:
    if CHROMIUM is None:
        pytest.fail("Chromium is not installed: apt-get install chromium (.ci/run does)")
    runtime = demo_runtime(tmp_path / "chat.sqlite3")
    async with serve(runtime) as base, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = await browser.new_page(accept_downloads=True)
        await page.goto(base + "/chat")
        yield page
        await browser.close()


async def test_web_chat_offers_the_file_as_a_download(browser_page: Any, tmp_path: Path) -> None:
    tab = browser_page
    await tab.get_by_role("button", name="Sam Lee").click()
    await say(tab, "/mydata")
    await expect(tab.locator("#log")).to_contain_text("Name: Sam Lee")
    link = tab.locator("a.attachment").last
    await expect(link).to_have_text("⬇ mydata.json")
    async with tab.expect_download() as waiting:
        await link.click()
    download = await waiting.value
    target = tmp_path / "mydata.json"
    await download.save_as(target)
    held = json.loads(target.read_text())
    assert held["profile"]["display_name"] == "Sam Lee"
    assert "/mydata" in [m["text"] for m in held["messages"]]
