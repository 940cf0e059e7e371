"""The admins' menu end to end over the Telegram emulator (real HTTP): every command answered,
charts as photos, exports as documents, buttons that pause a campaign, and a non-admin refused
on every command and button. Plus /stats in the web chat page, with its chart, in Chromium."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

import httpx
import pytest
from playwright.async_api import async_playwright, expect
from sqlalchemy import select

from handlers.admin import ADMIN_COMMANDS
from storage.consent import append_consent
from storage.tables import AuditRecord, CampaignState, Delivery, Person
from tests.emulators.telegram_api import SentRecord
from tests.live_server import serve
from tests.telegram_world import ADMIN_ID, World, telegram_world
from tests.test_telegram_delivery_e2e import menu
from tests.test_webchat_browser import ARGS, CHROMIUM, demo_runtime, say
from tests.transcript import add_student

pytestmark = pytest.mark.e2e
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
async def tg(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    path = tmp_path_factory.mktemp("admin-tg") / "tg.sqlite3"
    async with telegram_world(f"sqlite:///{path}", "polling", per_chat_per_second=20) as world:
        yield world


async def ask(world: World, chat: int, text: str, count: int) -> list[SentRecord]:
    """Send a command, wait for `count` answers, return them."""
    seen = len(world.emu.messages_to(chat))
    name, _, args = text.lstrip("/").partition(" ")
    await world.emu.user_sends_command(chat, name, args, first_name="Ada")
    sent = await world.replies(chat, seen + count)
    return sent[seen:]


async def press(world: World, chat: int, record: SentRecord, data: str) -> SentRecord:
    seen = len(world.emu.messages_to(chat))
    await world.emu.user_presses_button(chat, record.message_id, data)
    return (await world.replies(chat, seen + 1))[seen]


def buttons(record: SentRecord) -> dict[str, str]:
    rows = (record.reply_markup or {}).get("inline_keyboard", [])
    return {b["text"]: b["callback_data"] for row in rows for b in row}


async def test_every_admin_command_over_telegram(tg: World) -> None:
    figures, *charts = await ask(tg, ADMIN_ID, "/stats", 4)
    assert "Coaching consent:" in (figures.text or "") and "Wald" in (figures.text or "")
    assert [r.method for r in charts] == ["sendPhoto"] * 3
    assert all((r.text or "").startswith("Chart:") for r in charts)  # captions
    files = await ask(tg, ADMIN_ID, "/export 7", 4)
    assert [r.method for r in files] == ["sendDocument"] * 4
    assert files[0].params["document_data"].startswith(b"id,person_id,purpose,decision")
    [listing] = await ask(tg, ADMIN_ID, "/campaigns", 1)
    paused = await press(tg, ADMIN_ID, listing, buttons(listing)["Pause welcome"])
    assert "welcome is paused" in (paused.text or "")
    state = tg.runtime.db.run_sync(lambda s: s.get(CampaignState, "welcome"))
    assert state is not None and state.paused
    for command, expected in (("/find nobody", "No student matches"), ("/mentors", "Mentors:"),
                              ("/admins", "Admins:"), ("/review", "Nothing is waiting"),
                              ("/audit", "campaign.pause")):  # fmt: skip
        [answer] = await ask(tg, ADMIN_ID, command, 1)
        assert expected in (answer.text or ""), command
    # The admin's menu offers every admin command (and only commands that work: test_admin).
    async with asyncio.timeout(5):  # synced in the background at start-up
        while not menu(tg, {"type": "chat", "chat_id": ADMIN_ID}):  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    assert {c.lstrip("/") for c in ADMIN_COMMANDS} <= set(menu(tg, {"type": "chat",
                                                                    "chat_id": ADMIN_ID}))


async def test_a_student_is_refused_every_admin_command_and_button(tg: World) -> None:
    uid = tg.new_user_id()
    add_student(tg.runtime, "Sam", channel="telegram", address=str(uid), eligible=False)
    before = tg.runtime.db.run_sync(lambda s: len(s.execute(select(AuditRecord)).all()))
    for command in ADMIN_COMMANDS:
        [answer] = await ask(tg, uid, command, 1)
        assert answer.text == "That command is for admins.", command
    # Telegram only delivers presses of buttons the bot sent; the web chat takes any choice id,
    # so a forged admin button is tried there, over HTTP.
    async with httpx.AsyncClient(base_url=tg.base_url) as client:
        address = (await client.post("/chat/api/sessions", json={})).json()["address"]
        for n, data in enumerate(("adm:pause:welcome", "adm:resume:welcome", "adm:export:",
                                  "adm:drop:1", "adm:remove:1", "adm:invite:admin")):
            said = await client.post("/chat/api/messages", json={
                "address": address, "message_id": f"m{n}", "text": "x", "choice_id": data})
            assert [m["text"] for m in said.json()["messages"]] == [
                "That command is for admins."], data  # fmt: skip
    after = tg.runtime.db.run_sync(lambda s: len(s.execute(select(AuditRecord)).all()))
    assert after == before


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[Any]:
    if CHROMIUM is None:
        pytest.fail("Chromium is not installed: apt-get install chromium (.ci/run does)")
    runtime = demo_runtime(tmp_path / "chat.sqlite3")
    async with serve(runtime) as base, async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = await launched.new_page()
        await page.goto(base + "/chat")
        yield page
        await launched.close()


async def test_stats_in_the_web_chat_shows_the_charts(browser: Any) -> None:
    tab = browser
    await tab.get_by_role("button", name="Kai Morgan").click()
    await say(tab, "/stats")
    await expect(tab.locator("#log")).to_contain_text("Coaching consent:")
    charts = tab.locator("img.chart")
    await expect(charts).to_have_count(3)
    width = await charts.first.evaluate("img => img.naturalWidth")
    assert width > 300  # a real PNG, decoded by the browser


def zone_at(local_hours: range) -> str:
    """A time zone whose local hour now falls in `local_hours` (the test runs at any time)."""
    now = datetime.now(UTC)
    for zone in sorted(available_timezones()):
        regional = zone.startswith(("America/", "Europe/", "Asia/", "Africa/"))
        if regional and now.astimezone(ZoneInfo(zone)).hour in local_hours:
            return zone
    raise AssertionError(f"no zone at local hours {local_hours}")


async def test_a_broadcast_over_telegram_respects_quiet_hours_caps_and_opt_outs(
    tg: World,
) -> None:
    now = tg.runtime.clock.now()
    day, night = zone_at(range(11, 17)), zone_at(range(1, 5))
    people = {}
    for name, zone in (("Ada Day", day), ("Nil Night", night), ("Cap Full", day),
                       ("Stop Ped", day)):  # fmt: skip
        uid = tg.new_user_id()
        tg.emu.register_chat(uid, first_name=name.split()[0])
        add_student(tg.runtime, name, channel="telegram", address=str(uid), eligible=False)
        people[name] = uid
        pid = tg.runtime.db.run_sync(lambda s, n=name: s.execute(
            select(Person.id).where(Person.display_name == n)).scalar_one())  # fmt: skip
        tg.runtime.db.run_sync(lambda s, p=pid, z=zone: _prepare(s, p, z, now))
    cap = person_of(tg, "Cap Full")
    tg.runtime.db.run_sync(lambda s: s.add_all([Delivery(
        person_id=cap, channel="telegram", address="x", kind="nudge", text="earlier",
        status="sent", due_at=now, sent_at=now, created_at=now, updated_at=now)
        for _ in range(2)]))  # the daily cap of 2 is used up  # fmt: skip
    await ask(tg, people["Stop Ped"], "/stop", 1)  # STOP in the chat: no proactive messages
    [menu] = await ask(tg, ADMIN_ID, "/broadcast", 1)
    kinds = await press(tg, ADMIN_ID, menu, buttons(menu)["Office hours"])
    values = await press(tg, ADMIN_ID, kinds, buttons(kinds)["Cohort"])
    preview = await press(tg, ADMIN_ID, values, buttons(values)["bc-e2e"])
    assert "4 students in the group, 3 with consent" in (preview.text or "")
    sent = await press(tg, ADMIN_ID, preview, buttons(preview)["Send to 3"])
    assert "on its way to 3 students" in (sent.text or "")
    before = len(tg.emu.messages_to(people["Ada Day"]))
    await tg.runtime.dispatcher.drain()
    got = await tg.replies(people["Ada Day"], before + 1)
    assert (got[-1].text or "").startswith("Hi Ada! Mentors hold extra office hours")
    statuses = tg.runtime.db.run_sync(lambda s: {d.person_id: d.status for d in s.execute(
        select(Delivery).where(Delivery.campaign_id.like("broadcast-%"))).scalars()})  # fmt: skip
    assert statuses == {person_of(tg, "Ada Day"): "sent", person_of(tg, "Nil Night"): "held",
                        cap: "held"}  # fmt: skip
    assert not any("office hours" in (r.text or "")
                   for r in tg.emu.messages_to(people["Stop Ped"]))  # fmt: skip


def person_of(world: World, name: str) -> int:
    return world.runtime.db.run_sync(lambda s: s.execute(
        select(Person.id).where(Person.display_name == name)).scalar_one())  # fmt: skip


def _prepare(session: Any, person_id: int, zone: str, now: datetime) -> None:
    person = session.get(Person, person_id)
    person.time_zone, person.cohort = zone, "bc-e2e"
    append_consent(session, person_id=person_id, purpose="nudges", decision="granted",
                   phone=None, channel="telegram", text_version="v1", locale="en",
                   source_message_id=None, now=now)  # fmt: skip
