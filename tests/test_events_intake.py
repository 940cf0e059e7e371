"""Events API, CSV imports, preview and the scheduler's jobs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from bot.app import Runtime, build_runtime
from bot.cli import cli
from bot.clock import FakeClock
from bot.web import create_web_app
from scheduler.campaigns import CampaignFileError
from scheduler.preview import preview
from storage.tables import Delivery, LearningEvent, Person
from tests.conftest import START, make_settings
from tests.nudge_world import add_event, add_student

AUTH = {"Authorization": "Bearer t0ken-for-tests"}


@pytest.fixture
def runtime(sqlite_url: str) -> Iterator[Runtime]:
    built = build_runtime(make_settings(sqlite_url, api_token="t0ken-for-tests"),
                          clock=FakeClock(START))
    yield built
    built.db.close()


def event(i: int, **kw: object) -> dict[str, object]:
    base: dict[str, object] = {"id": f"e{i}", "student": "lms-ana", "type": "login",
                               "occurred_at": "2026-11-23T14:00:00Z"}
    return base | kw


def test_events_api_stores_valid_events_and_lists_the_rest(runtime: Runtime) -> None:
    ana = add_student(runtime, "Ana")
    client = TestClient(create_web_app(runtime))
    batch = {"events": [event(1), event(2, type="test_completed", score=91, ref="t1"),
                        event(3, type="teleport"), event(4, student="nobody"),
                        event(5, type="test_completed"), event(6, occurred_at="2026-11-23")]}
    assert client.post("/api/v1/events", json=batch).status_code == 401
    assert client.post("/api/v1/events", json=batch,
                       headers={"Authorization": "Bearer wrong"}).status_code == 401
    answer = client.post("/api/v1/events", json=batch, headers=AUTH).json()
    assert (answer["stored"], answer["duplicates"]) == (2, 0)
    assert sorted(r["id"] for r in answer["rejected"]) == ["e3", "e4", "e5", "e6"]
    assert all(r["reasons"] for r in answer["rejected"])
    again = client.post("/api/v1/events", json=batch, headers=AUTH).json()
    assert (again["stored"], again["duplicates"]) == (0, 2)
    person = runtime.db.run_sync(lambda s: s.get(Person, ana.id))
    assert person.last_active_at == datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


def test_events_api_refuses_oversized_batches(runtime: Runtime) -> None:
    client = TestClient(create_web_app(runtime))
    batch = {"events": [event(i) for i in range(1_001)]}
    assert client.post("/api/v1/events", json=batch, headers=AUTH).status_code == 413


def test_csv_imports_report_rejected_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    url = f"sqlite:///{tmp_path}/i.sqlite3"
    monkeypatch.setenv("MENTORBOT_DATABASE_URL", url)
    (tmp_path / "s.csv").write_text(
        "lms_id,name,program,track,grade,cohort,locale,time_zone,mentor\n"
        "s1,Ana Lopez,cs,verified,7,c1,es,America/Mexico_City,m1\n"
        "s2,Ivan,cs,verified,7,c1,ru,Mars/Base,\n")
    (tmp_path / "e.csv").write_text(
        "id,student,type,occurred_at,ref,score,payload\n"
        "e1,s1,login,2026-01-05T10:00:00Z,,,\n"
        'e2,s1,class_missed,2026-01-06T10:00:00Z,c9,,"{""title"": ""Loops""}"\n'
        "e3,s1,test_completed,2026-01-06T10:00:00Z,t1,,\n")
    runner = CliRunner()
    students = runner.invoke(cli, ["import", "students", str(tmp_path / "s.csv")])
    assert students.exit_code == 1 and "Stored 1" in students.output
    assert "unknown time zone" in students.output
    events = runner.invoke(cli, ["import", "events", str(tmp_path / "e.csv")])
    assert "Stored 2" in events.output and "score is required" in events.output
    again = runner.invoke(cli, ["import", "events", str(tmp_path / "e.csv")])
    assert "Stored 0, already there 2" in again.output
    runtime = build_runtime(make_settings(url), clock=FakeClock(START))
    count = runtime.db.run_sync(
        lambda s: s.execute(select(func.count()).select_from(LearningEvent)).scalar())
    mentor = runtime.db.run_sync(
        lambda s: s.execute(select(Person.role).where(Person.lms_id == "m1")).scalar())
    runtime.db.close()
    assert count == 2 and mentor == "mentor"


def test_preview_says_what_and_why_without_keeping_anything(runtime: Runtime) -> None:
    early = add_student(runtime, "Ana")
    add_student(runtime, "Zed")  # person 2 is in this campaign's control group
    late = add_student(runtime, "Oleg", zone="Asia/Kolkata")
    for student in (early, late):
        add_event(runtime, student, "class_missed", START - timedelta(hours=3), ref="c1")
    assert runtime.nudges is not None
    rows = preview(runtime.db, runtime.nudges.planner, runtime.dispatcher.policy, START)
    decisions = {(r.person.split(" #")[0], r.decision, r.reason) for r in rows
                 if r.campaign.startswith("class_missed")}
    assert ("Ana", "send", "allowed") in decisions  # 10:00 in New York
    assert ("Oleg", "hold", "quiet_hours") in decisions  # 20:30 in Kolkata
    assert runtime.db.run_sync(
        lambda s: s.execute(select(func.count()).select_from(Delivery)).scalar()) == 0


def test_a_broken_campaigns_file_stops_the_start(sqlite_url: str, tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("campaigns:\n  - id: Bad Id\n    scenario: nope\n")
    with pytest.raises(CampaignFileError) as caught:
        build_runtime(make_settings(sqlite_url, nudges={"campaigns_file": tmp_path / "bad.yaml"}))
    assert len(caught.value.problems) >= 3


async def test_every_job_has_an_id_coalesces_and_never_overlaps(sqlite_url: str) -> None:
    settings = make_settings(sqlite_url, scheduler={"enabled": True, "tick_seconds": 60})
    runtime = build_runtime(settings, clock=FakeClock(START))
    runtime.ticker.start()
    try:
        jobs = runtime.ticker._scheduler.get_jobs()  # type: ignore[union-attr]
        assert {j.id for j in jobs} == {"send-pending", "plan-nudges", "nudge-lifecycle",
                                        "parent-digests", "escalations", "retention",
                                        "weekly-plans", "mentor-briefs"}
        assert all(j.coalesce and j.max_instances == 1 for j in jobs)
    finally:
        await runtime.ticker.stop()
        runtime.db.close()
