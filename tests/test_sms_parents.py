"""Parents by SMS, end to end: guardian links, own consent by reply, digests and alerts."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bot.channels.sms_segments import segment_info
from bot.cli import cli
from bot.clock import FakeClock
from bot.i18n import Translator
from bot.settings import SUPPORTED_LOCALES, Settings
from scheduler.parent_digest import WeekSummary, alert_text, digest_text
from storage.consent import append_consent
from storage.events import record_events
from storage.tables import ConsentRecord, Delivery, Guardian
from tests.sms_world import SmsWorld, sms_world

pytestmark = pytest.mark.e2e
TUESDAY_NOON_NY = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)
PARENT = "+12125550160"
STUDENT = "+12125550161"
_events = iter(range(1, 10_000))


@pytest.fixture
async def world(sqlite_url: str) -> AsyncIterator[SmsWorld]:
    async with sms_world(sqlite_url, FakeClock(TUESDAY_NOON_NY)) as w:
        yield w


async def link_parent(world: SmsWorld, locale: str = "en", day: str = "tuesday") -> int:
    student = world.add_person(STUDENT, lms_id="S-42", display_name="Priya Sharma")
    body = {
        "parent_phone": "(212) 555-0160", "student": "S-42", "parent_name": "Asha",
        "locale": locale, "time_zone": "America/New_York", "digest_day": day,
    }  # fmt: skip
    url = f"{world.local_url}/api/v1/guardians"
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json=body) as refused:
            assert refused.status == 401
        headers = {"Authorization": "Bearer test-api-token"}
        async with http.post(url, json=body, headers=headers) as response:
            assert response.status == 201, await response.text()
            created = await response.json()
    assert created["student_id"] == student and created["created"] is True
    return student


def consent(world: SmsWorld, person_id: int, purpose: str, decision: str = "granted") -> None:
    world.db(
        lambda s: append_consent(
            s, person_id=person_id, purpose=purpose, decision=decision, phone=None,
            channel="sms", text_version="t", locale="en", source_message_id=None,
            now=world.clock.now(),
        )
    )  # fmt: skip


def events(world: SmsWorld, student: int, *kinds: tuple[str, float | None, dict]) -> None:
    now = world.clock.now()
    rows = [
        dict(event_id=f"e{next(_events)}", person_id=student, type=kind, score=score,
             occurred_at=now - timedelta(days=5 - i), ref=f"r{i}", payload=payload, created_at=now)
        for i, (kind, score, payload) in enumerate(kinds)
    ]  # fmt: skip
    world.db(lambda s: record_events(s, rows))


def parent_id(world: SmsWorld) -> int:
    return world.db(lambda s: s.execute(select(Guardian.parent_id)).scalar_one())


async def test_parent_confirms_their_own_consent_by_reply(world: SmsWorld) -> None:
    await link_parent(world)
    await world.text(PARENT, "hello")
    await world.emu.wait_for(lambda: len(world.emu.messages_to(PARENT)) == 1)
    assert world.bodies_to(PARENT)[0].endswith("Reply 1 for Yes, 2 for No")
    await world.text(PARENT, "1")
    record = world.db(
        lambda s: (
            s.execute(select(ConsentRecord).where(ConsentRecord.purpose == "parent_sms"))
            .scalars()
            .one()
        )
    )
    expected = ("granted", "self", parent_id(world))
    assert (record.decision, record.actor, record.person_id) == expected
    await world.text(PARENT, "MENTOR")
    await world.emu.wait_for(lambda: len(world.emu.messages_to(PARENT)) == 3)
    assert "mentor" in world.bodies_to(PARENT)[2]


async def test_weekly_digest_in_hindi_with_the_right_segment_count(world: SmsWorld) -> None:
    student = await link_parent(world, locale="hi")
    await world.text(PARENT, "नमस्ते")  # first contact: asked YES/NO
    await world.text(PARENT, "हाँ")  # the parent's own consent, by reply
    consent(world, student, "parent_updates")
    due = (world.clock.now() + timedelta(days=3)).isoformat()
    events(
        world, student, ("class_attended", None, {}), ("class_missed", None, {}),
        ("class_attended", None, {}), ("assignment_submitted", None, {}),
        ("assignment_assigned", None, {"due_at": due}), ("test_completed", 91.0, {}),
    )  # fmt: skip
    await world.runtime.ticker.run_jobs()
    await world.runtime.ticker.run_jobs()  # idempotent: one digest per parent, student, week
    [digest] = [d for d in world.deliveries_to(PARENT) if d.kind == "digest"]
    assert digest.dedupe_key == f"digest:{parent_id(world)}:{student}:2026-W48"
    await world.runtime.dispatcher.drain()
    sent = world.emu.message(world.delivery(digest.id or 0).external_id or "")
    assert re.search("[\u0900-\u097f]", sent.body) and "Priya" in sent.body
    assert "91" not in sent.body and "2/3" in sent.body
    row = world.delivery(digest.id or 0)
    info = segment_info(sent.body)
    assert (row.segments, row.encoding) == (info.segments, "UCS-2") == (sent.segments, "UCS-2")
    assert row.segments <= 3


async def test_no_digest_without_the_students_permission(world: SmsWorld) -> None:
    student = await link_parent(world)
    consent(world, parent_id(world), "parent_sms")
    await world.runtime.ticker.run_jobs()
    assert world.deliveries_to(PARENT) == []
    consent(world, student, "parent_updates")
    await world.runtime.ticker.run_jobs()
    [digest] = world.deliveries_to(PARENT)
    consent(world, student, "parent_updates", "withdrawn")  # after planning, before sending
    await world.runtime.dispatcher.drain()
    assert world.delivery(digest.id or 0).status == "suppressed"
    assert world.delivery(digest.id or 0).error == "no_student_permission"
    assert world.emu.messages_to(PARENT) == []


async def test_digest_waits_for_the_parents_day(world: SmsWorld) -> None:
    student = await link_parent(world, day="friday")
    consent(world, parent_id(world), "parent_sms")
    consent(world, student, "parent_updates")
    await world.runtime.ticker.run_jobs()
    assert world.deliveries_to(PARENT) == []


async def test_two_missed_classes_in_a_row_alert_the_parent(world: SmsWorld) -> None:
    student = await link_parent(world, day="friday")
    consent(world, parent_id(world), "parent_sms")
    consent(world, student, "parent_updates")
    events(world, student, ("class_attended", None, {}), ("class_missed", None, {}))
    await world.runtime.ticker.run_jobs()
    assert world.deliveries_to(PARENT) == []
    events(world, student, ("class_missed", None, {}), ("class_missed", None, {}))
    await world.runtime.ticker.run_jobs()
    await world.runtime.ticker.run_jobs()
    [alert] = world.deliveries_to(PARENT)
    await world.runtime.dispatcher.drain()
    assert alert.kind == "alert" and "missed the last two classes" in world.bodies_to(PARENT)[0]
    assert "http" not in world.bodies_to(PARENT)[0]  # no parents' page configured: no link


def test_digest_links_the_parents_page_only_when_one_is_configured() -> None:
    locales_dir = Settings(_env_file=None).locales_dir  # type: ignore[call-arg]
    t = Translator(locales_dir, SUPPORTED_LOCALES).for_locale("es")
    week = WeekSummary(attended=2, classes=3, submitted=1, due=0, band=None)
    assert "http" not in digest_text(t, "Ana", week, None)
    linked = alert_text(t, "Ana", "https://school.example.edu/parents")
    assert linked.endswith("Más información: https://school.example.edu/parents")


async def test_student_allows_parent_updates_in_settings_by_sms(world: SmsWorld) -> None:
    world.add_person(STUDENT, display_name="Priya", locale="en")
    await world.text(STUDENT, "settings")
    await world.emu.wait_for(lambda: len(world.emu.messages_to(STUDENT)) == 1)
    menu = world.bodies_to(STUDENT)[0]
    number = re.search(r"(\d) for Allow parent updates", menu)
    # A long menu is cut to three segments with a link to the whole text; the choices stay.
    assert number and ("Updates to your parents: off" in menu or "/sms/m/" in menu)
    await world.text(STUDENT, number.group(1))
    await world.emu.wait_for(lambda: len(world.emu.messages_to(STUDENT)) == 3)  # + the menu
    assert "may now get weekly progress updates" in world.bodies_to(STUDENT)[1]
    decisions = world.db(
        lambda s: list(s.execute(select(ConsentRecord.purpose, ConsentRecord.decision)).all())
    )
    assert [tuple(d) for d in decisions] == [("parent_updates", "granted")]


def test_csv_import_links_good_rows_and_lists_rejected_ones(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.app import prepare_database
    from storage.tables import Person

    db = prepare_database(_settings(sqlite_url), FakeClock(TUESDAY_NOON_NY))
    db.run_sync(lambda s: s.add(Person(role="student", lms_id="S-1", created_at=TUESDAY_NOON_NY)))
    db.close()
    csv_file = tmp_path / "guardians.csv"
    csv_file.write_text(
        "parent_phone,student,parent_name,locale,digest_day\n"
        "212 555 0160,S-1,Asha,hi,friday\n"
        "not a phone,S-1,Bo,en,monday\n"
        "212 555 0161,S-404,Cy,en,monday\n"
        "212 555 0162,S-1,Di,xx,monday\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("MENTORBOT_DATABASE_URL", sqlite_url)
    result = CliRunner().invoke(cli, ["import", "guardians", str(csv_file)])
    assert result.exit_code == 1
    assert "1 imported, 3 rejected" in result.output
    assert "line 3" in result.output and "S-404" in result.output and "'xx'" in result.output


def _settings(url: str):  # type: ignore[no-untyped-def]
    from tests.conftest import make_settings

    return make_settings(url)


async def test_delivery_meta_names_the_student(world: SmsWorld) -> None:
    student = await link_parent(world)
    consent(world, parent_id(world), "parent_sms")
    consent(world, student, "parent_updates")
    await world.runtime.ticker.run_jobs()
    rows = world.db(lambda s: list(s.execute(select(Delivery)).scalars()))
    assert [r.meta["student_id"] for r in rows] == [student]
