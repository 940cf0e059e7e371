"""Mentors from the command line: invitation links and the mentors CSV import; and broken
knowledge-base or crisis files stopping the start with every problem listed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bot.app import build_runtime
from bot.cli import cli
from bot.clock import FakeClock
from handlers.crisis import CrisisFileError
from handlers.knowledge import KnowledgeFileError
from storage.tables import Invitation, MentorProfile, Person
from tests.conftest import START, make_settings

LOCALES = Path(__file__).resolve().parent.parent / "locales"


def test_invite_prints_a_single_use_link(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path}/i.sqlite3"
    monkeypatch.setenv("MENTORBOT_DATABASE_URL", url)
    monkeypatch.setenv("MENTORBOT_TELEGRAM__USERNAME", "mentorbot_demo_bot")
    runner = CliRunner()
    first = runner.invoke(cli, ["invite", "mentor", "--name", "Dana Brooks", "--lms-id", "m-7"])
    second = runner.invoke(cli, ["invite", "mentor", "--name", "Dana Brooks"])
    assert first.exit_code == 0, first.output
    link = first.output.strip()
    assert link.startswith("https://t.me/mentorbot_demo_bot?start=inv-")
    assert second.output.strip() != link  # each call makes a new one
    runtime = build_runtime(make_settings(url), clock=FakeClock(START))
    rows = runtime.db.run_sync(lambda s: list(s.execute(select(Invitation)).scalars()))
    runtime.db.close()
    token = link.split("start=", 1)[1]
    assert [(r.role, r.name, r.lms_id) for r in rows] == [
        ("mentor", "Dana Brooks", "m-7"), ("mentor", "Dana Brooks", None)]
    assert all(token not in r.token_hash for r in rows)  # only a hash is kept
    admin = runner.invoke(cli, ["invite", "admin", "--name", "Ada"])
    assert admin.exit_code == 0 and "start=inv-" in admin.output


def test_mentors_csv_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path}/m.sqlite3"
    monkeypatch.setenv("MENTORBOT_DATABASE_URL", url)
    (tmp_path / "m.csv").write_text(
        "name,lms_id,languages,time_zone,working_hours,capacity\n"
        "Dana Brooks,m-7,en es,America/New_York,09:00-17:00,12\n"
        "Ivan Petrov,m-8,ru,Europe/Moscow,10:00-18:00,5\n"
        "Bad Hours,m-9,en,America/Chicago,18:00-09:00,5\n"
        "Bad Lang,m-10,fr,America/Chicago,09:00-17:00,5\n")
    result = CliRunner().invoke(cli, ["import", "mentors", str(tmp_path / "m.csv")])
    assert result.exit_code == 1 and "Stored 2" in result.output
    assert "working_hours" in result.output and "unknown languages" in result.output
    again = CliRunner().invoke(cli, ["import", "mentors", str(tmp_path / "m.csv")])
    assert "Stored 2" in again.output  # upserted by LMS id: nobody twice
    runtime = build_runtime(make_settings(url), clock=FakeClock(START))
    found = runtime.db.run_sync(lambda s: [
        (p.display_name, p.role, p.time_zone, m.languages, m.work_start, m.capacity)
        for p, m in s.execute(select(Person, MentorProfile).join(
            MentorProfile, MentorProfile.person_id == Person.id).order_by(Person.id))])
    runtime.db.close()
    assert found == [
        ("Dana Brooks", "mentor", "America/New_York", ["en", "es"], "09:00", 12),
        ("Ivan Petrov", "mentor", "Europe/Moscow", ["ru"], "10:00", 5),
    ]


def broken_locales(tmp_path: Path) -> Path:
    copy = tmp_path / "locales"
    shutil.copytree(LOCALES, copy)
    return copy


def test_a_broken_knowledge_file_stops_the_start(sqlite_url: str, tmp_path: Path) -> None:
    locales = broken_locales(tmp_path)
    es = locales / "es" / "knowledge.yaml"
    text = es.read_text(encoding="utf-8")
    start = text.index("  - id: refunds")
    end = text.index("  - id: ", start + 5)
    es.write_text(text[:start] + text[end:], encoding="utf-8")  # an entry missing in Spanish
    (locales / "ru" / "knowledge.yaml").write_text("language: ru\nentries: [{id: Bad Id}]\n")
    with pytest.raises(KnowledgeFileError) as caught:
        build_runtime(make_settings(sqlite_url, knowledge={"dir": locales}))
    problems = "\n".join(caught.value.problems)
    assert "es/knowledge.yaml: entry 'refunds' is missing" in problems
    assert "ru/knowledge.yaml" in problems and "bad id" in problems
    assert "field answer" in problems  # every problem, not just the first


def test_a_broken_crisis_file_stops_the_start(sqlite_url: str, tmp_path: Path) -> None:
    locales = broken_locales(tmp_path)
    (locales / "hi" / "crisis.yaml").write_text("language: hi\npatterns: [{id: x}]\n")
    with pytest.raises(CrisisFileError) as caught:
        build_runtime(make_settings(sqlite_url, locales_dir=locales))
    assert any("hi" in p for p in caught.value.problems)
