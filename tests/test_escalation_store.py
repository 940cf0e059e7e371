"""Escalations in the database, on SQLite and PostgreSQL: two processes taking the same request
never both win, two processes raising at once make one open request, the lifecycle holds."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from storage import escalations, people
from storage.database import Database, create_db_engine
from storage.tables import Conversation, Escalation

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
ROUNDS = 5


def person(db: Database, address: str, role: str = "student") -> int:
    def create(session: Any) -> int:
        row = people.create_person(session, "webchat", address, NOW)
        people.update_person(session, row, role=role)
        return row.id or 0

    return db.run_sync(create)


def _take_in_a_process(url: str, escalation_id: int, mentor_id: int, barrier: Any,
                       results: Any) -> None:  # fmt: skip
    database = Database(create_db_engine(url))
    barrier.wait()
    won = database.run_sync(lambda s: escalations.take(s, escalation_id, mentor_id, NOW))
    results.put((mentor_id, won))
    database.close()


def _raise_in_a_process(url: str, student: int, reason: str, barrier: Any, results: Any) -> None:
    database = Database(create_db_engine(url))
    barrier.wait()
    raised = database.run_sync(lambda s: escalations.raise_escalation(
        s, student, reason=reason, priority="normal", now=NOW))
    results.put(raised.id)
    database.close()


def _race(target: Any, args_per_process: list[tuple[Any, ...]]) -> list[Any]:
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(len(args_per_process)), context.Queue()
    processes = [context.Process(target=target, args=(*args, barrier, results))
                 for args in args_per_process]  # fmt: skip
    for process in processes:
        process.start()
    found = [results.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    return found


def test_two_processes_taking_the_same_request_never_both_win(
    db: Database, database_url: str
) -> None:
    dana, lee = person(db, "dana", "mentor"), person(db, "lee", "mentor")
    for round_ in range(ROUNDS):
        student = person(db, f"student-{round_}")
        raised = db.run_sync(lambda s, p=student: escalations.raise_escalation(
            s, p, reason="crisis", priority="urgent", now=NOW))
        outcome = _race(_take_in_a_process,
                        [(database_url, raised.id, dana), (database_url, raised.id, lee)])
        winners = [mentor for mentor, won in outcome if won]
        assert len(winners) == 1, outcome
        row = db.run_sync(lambda s, i=raised.id: escalations.get(s, i))
        assert (row.status, row.mentor_id) == ("taken", winners[0])


def test_two_processes_raising_at_once_make_one_open_request(
    db: Database, database_url: str
) -> None:
    student = person(db, "sam")
    ids = _race(_raise_in_a_process,
                [(database_url, student, "mentor_request"), (database_url, student, "crisis")])
    assert ids[0] == ids[1]
    [row] = db.run_sync(lambda s: list(s.execute(select(Escalation)).scalars()))
    assert sorted(row.reasons) == ["crisis", "mentor_request"]


def test_lifecycle_and_the_conversation_mode(db: Database) -> None:
    student, mentor = person(db, "sam"), person(db, "dana", "mentor")
    raised = db.run_sync(lambda s: escalations.raise_escalation(
        s, student, reason="mentor_request", priority="normal", now=NOW))
    db.run_sync(lambda s: escalations.offer(s, raised.id, [mentor], NOW))
    assert db.run_sync(lambda s: escalations.get(s, raised.id)).status == "offered"
    assert db.run_sync(lambda s: escalations.take(s, raised.id, mentor, NOW))
    mode = db.run_sync(lambda s: s.get(Conversation, student).mode)
    assert mode == "human"
    later = NOW + timedelta(hours=1)
    db.run_sync(lambda s: escalations.close(s, raised.id, "resolved", later, "login"))
    row = db.run_sync(lambda s: escalations.get(s, raised.id))
    assert (row.status, row.resolution, row.closed_at) == ("resolved", "login", later)
    assert db.run_sync(lambda s: s.get(Conversation, student).mode) == "bot"
    again = db.run_sync(lambda s: escalations.raise_escalation(
        s, student, reason="mentor_request", priority="normal", now=later))
    assert again.id != raised.id and not again.joined  # a closed request is not reopened


def test_a_new_trigger_joins_and_can_only_raise_the_priority(db: Database) -> None:
    student = person(db, "sam")
    first = db.run_sync(lambda s: escalations.raise_escalation(
        s, student, reason="not_sure", priority="normal", now=NOW))
    urgent = db.run_sync(lambda s: escalations.raise_escalation(
        s, student, reason="crisis", priority="urgent", now=NOW, tags=("self_harm",)))
    calm = db.run_sync(lambda s: escalations.raise_escalation(
        s, student, reason="mentor_request", priority="normal", now=NOW))
    assert first.id == urgent.id == calm.id
    assert (urgent.joined, urgent.upgraded, calm.upgraded) == (True, True, False)
    row = db.run_sync(lambda s: escalations.get(s, first.id))
    assert (row.priority, row.tags) == ("urgent", ["self_harm"])
    assert row.reasons == ["not_sure", "crisis", "mentor_request"]
