"""The planner's SQL personas agree with the Python rules, on SQLite and on PostgreSQL."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import Session
from structlog.testing import capture_logs

from scheduler.personas import Event, engagement_persona, performance_persona
from storage import side_query
from storage.database import Database, create_db_engine
from storage.migrate import upgrade
from storage.persona_sql import latest_column, persona_select
from storage.plan_render import read_instant
from storage.plan_sql import PERSONA_TABLE, refresh_personas
from storage.side_query import insert_beside
from storage.sql_params import sql
from storage.tables import ConsentRecord, Identity, LearningEvent, Person

NOW = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)
TYPES = ("enrolled", "login", "class_attended", "class_missed", "assignment_assigned",
         "assignment_submitted", "test_started", "test_completed", "milestone_due")


def ev(kind: str, days: float, score: float | None = None) -> Event:
    return Event(kind, NOW - timedelta(days=days), score=score)


def classes(first: int, last: int, missed: frozenset[int] = frozenset()) -> list[Event]:
    return [ev("class_missed" if d in missed else "class_attended", d)
            for d in range(first, last - 1, -4)]


VETERAN = [ev("enrolled", 120), *[ev("login", d) for d in range(100, 60, -5)]]
EXAMPLES: dict[str, list[Event]] = {
    "nothing": [],
    "regular": [*VETERAN, *classes(57, 5), ev("class_missed", 1)],
    "lapsed": [*VETERAN, *classes(57, 21), ev("class_missed", 17), ev("class_missed", 13)],
    "two_misses": [*VETERAN, *classes(57, 9), ev("class_missed", 5), ev("class_missed", 1)],
    "dropping": [*VETERAN, *classes(57, 1, missed=frozenset({13, 5}))],
    "new": [ev("enrolled", 3), ev("login", 2), ev("class_attended", 1)],
    "re_enrolled_veteran": [*VETERAN, *classes(40, 16), ev("enrolled", 2), ev("login", 1)],
    "high": [*VETERAN, ev("login", 1), ev("test_completed", 9, 91), ev("test_completed", 3, 84)],
    "low_scores": [*VETERAN, ev("login", 1), ev("test_completed", 5, 35)],
    "low_submissions": [*VETERAN, ev("login", 1), *[ev("assignment_assigned", d) for d in
                                                     (20, 15, 10, 5)],
                        ev("assignment_submitted", 14)],
    "future_ignored": [ev("enrolled", 30), ev("login", 20), ev("login", -1)],
}


def random_history(rng: random.Random) -> list[Event]:
    events = []
    for _ in range(rng.randint(0, 40)):
        kind = rng.choice(TYPES)
        score = float(rng.randint(0, 100)) if kind == "test_completed" else None
        events.append(ev(kind, rng.randint(0, 120 * 24) / 24, score))
    return events


def store(db: Database, histories: dict[str, list[Event]]) -> dict[int, str]:
    def write(session: object) -> dict[int, str]:
        names = {}
        for name, history in histories.items():
            person = Person(role="student", display_name=name, created_at=NOW)
            session.add(person)  # type: ignore[attr-defined]
            session.flush()  # type: ignore[attr-defined]
            names[person.id or 0] = name
            for i, e in enumerate(history):
                session.add(LearningEvent(  # type: ignore[attr-defined]
                    event_id=f"{name}-{i}", person_id=person.id, type=e.type,
                    occurred_at=e.at, score=e.score, created_at=NOW))
        return names

    return db.run_sync(write)


def sql_personas(db: Database, source: str = "select") -> dict[int, tuple[str, str]]:
    """Personas from `persona_select`, or from the planner's persona table (built another way
    on SQLite: from the events' aggregate, then the students without events)."""
    if source == "planner_table":
        def read(session: Session) -> list[Any]:
            refresh_personas(session, NOW, latest=("login",))
            rows = session.execute(sql(f"SELECT person_id, engagement, performance,"
                                       f" {latest_column('login')} FROM {PERSONA_TABLE}", {}))
            return rows.all()

        rows = db.run_sync(read)
        latest = {pid: read_instant(at) if isinstance(at, str) else at
                  for pid, _eng, _perf, at in rows}
        expected = db.run_sync(lambda s: dict(s.execute(sql(
            "SELECT person_id, MAX(occurred_at) FROM learning_event WHERE type = 'login'"
            " AND occurred_at <= :now GROUP BY person_id", {"now": NOW})).all()))
        assert {pid: at for pid, at in latest.items() if at is not None} == {
            pid: read_instant(at) if isinstance(at, str) else at for pid, at in expected.items()
            if pid in latest}
        return {pid: (eng, perf) for pid, eng, perf, _at in rows}
    params: dict[str, object] = {}
    query = persona_select(NOW, params)
    found = db.run_sync(lambda s: s.execute(sql(query, params)).all())
    return {pid: (eng, perf) for pid, eng, perf, _seen in found}


SOURCES = pytest.mark.parametrize("source", ["select", "planner_table"])


@SOURCES
def test_sql_and_python_agree_on_example_histories(db: Database, source: str) -> None:
    names = store(db, EXAMPLES)
    found = sql_personas(db, source)
    expected = {pid: (engagement_persona(EXAMPLES[n], NOW).value,
                      performance_persona(EXAMPLES[n], NOW).value) for pid, n in names.items()}
    assert found == expected
    by_name = {names[pid]: persona for pid, persona in found.items()}
    assert by_name["two_misses"][0] == "slipping" and by_name["lapsed"][0] == "lapsed"
    assert by_name["high"][1] == "high" and by_name["low_submissions"][1] == "low"


@SOURCES
def test_sql_and_python_agree_on_random_histories(db: Database, source: str) -> None:
    rng = random.Random(20261123)
    histories = {f"r{i}": random_history(rng) for i in range(150)}
    names = store(db, histories)
    found = sql_personas(db, source)
    for pid, name in names.items():
        history = histories[name]
        expected = (engagement_persona(history, NOW).value,
                    performance_persona(history, NOW).value)
        assert found[pid] == expected, name


def test_split_over_two_processes_builds_the_same_persona_table(sqlite_url: str) -> None:
    """SQLite computes half of the students in a child process (`split_from`); the table is
    the same, row for row and column for column, and nothing stays attached afterwards."""
    upgrade(sqlite_url)
    db = Database(create_db_engine(sqlite_url))
    rng = random.Random(20261125)
    histories = {f"r{i}": random_history(rng) for i in range(120)}
    names = store(db, histories)

    def reach(session: Session) -> None:  # identities and consents, so every column varies
        for pid in sorted(names):
            for channel in ("telegram", "sms") if pid % 3 else ():
                session.add(Identity(person_id=pid, channel=channel, address=f"{channel}{pid}",
                                     reachable=pid % 5 != 0, created_at=NOW))
            if pid % 2:
                session.add(ConsentRecord(person_id=pid, purpose="nudges", created_at=NOW,
                                          decision="granted" if pid % 4 else "declined"))

    db.run_sync(reach)

    def table(split_from: int | None) -> list[Any]:
        def build(session: Session) -> list[Any]:
            refresh_personas(session, NOW, consents=(("nudges", "nudges"),),
                             channels=("telegram", "sms"), latest=("login", "test_completed"),
                             split_from=split_from)
            return session.execute(sql(f"SELECT * FROM {PERSONA_TABLE} ORDER BY person_id",
                                       {})).all()
        return db.run_sync(build)

    whole, split = table(None), table(1)
    assert split == whole and len(whole) == len(histories)
    assert {row[3] for row in whole} == {0, 1} and any(row[4] for row in whole)
    assert {pid: (eng, perf) for pid, eng, perf, *_ in split} == {
        pid: (engagement_persona(histories[n], NOW).value,
              performance_persona(histories[n], NOW).value) for pid, n in names.items()}
    attached = db.run_sync(lambda s: [r[1] for r in s.execute(text("PRAGMA database_list"))])
    assert attached == ["main", "temp"]
    db.close()


def test_when_the_child_fails_the_session_computes_its_part(
        sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    upgrade(sqlite_url)
    db = Database(create_db_engine(sqlite_url))
    db.run_sync(lambda s: s.execute(text("CREATE TABLE numbers (n INTEGER)")))
    monkeypatch.setattr(side_query, "_CHILD", ("-c", "raise SystemExit('no child today')"))

    def build(session: Session) -> list[Any]:
        insert_beside(session, "numbers", "SELECT 2 UNION ALL SELECT 3", {},
                      lambda: session.execute(text("INSERT INTO numbers VALUES (1)")))
        return session.execute(text("SELECT n FROM numbers ORDER BY rowid")).scalars().all()

    with capture_logs() as logs:
        assert db.run_sync(build) == [1, 2, 3]
    assert [entry["event"] for entry in logs] == [
        "side query failed; computing it in this process"]
    assert "no child today" in logs[0]["error"]
    db.close()


def test_the_child_opens_the_same_file_when_the_path_is_relative(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the child starts in the project's directory, not here
    url = "sqlite:///relative.sqlite3"
    upgrade(url)
    db = Database(create_db_engine(url))
    names = store(db, {"regular": EXAMPLES["regular"], "new": EXAMPLES["new"]})

    def build(session: Session) -> dict[int, str]:
        refresh_personas(session, NOW, split_from=1)
        rows = session.execute(sql(f"SELECT person_id, engagement FROM {PERSONA_TABLE}", {}))
        return dict(rows.all())

    with capture_logs() as logs:
        found = db.run_sync(build)
    assert logs == []  # no fallback: the child read this database
    assert {names[pid]: engagement for pid, engagement in found.items()} == {
        "regular": "regular", "new": "new"}
    db.close()
