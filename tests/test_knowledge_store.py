"""Knowledge-base answers in the database, on SQLite and PostgreSQL: feedback once, per-entry
statistics in a stable order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from storage import knowledge_answers, people
from storage.database import Database

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def test_feedback_is_stored_once_and_statistics_are_per_entry(db: Database) -> None:
    person = db.run_sync(lambda s: people.create_person(s, "webchat", "sam", NOW).id or 0)

    def answer(entry: str | None) -> None:
        db.run_sync(lambda s: knowledge_answers.record_answer(
            s, person_id=person, entry_id=entry, locale="en", channel="webchat",
            confidence=0.8, now=NOW))

    for entry in ("login_trouble", None, "login_trouble", "refunds"):
        answer(entry)
    assert db.run_sync(lambda s: knowledge_answers.record_feedback(
        s, person, "login_trouble", True, NOW))
    assert not db.run_sync(lambda s: knowledge_answers.record_feedback(
        s, person, "login_trouble", False, NOW))  # the latest answer has its feedback already
    assert db.run_sync(lambda s: knowledge_answers.record_feedback(
        s, person, "refunds", False, NOW))
    stats = db.run_sync(lambda s: knowledge_answers.entry_stats(s, NOW - timedelta(days=1)))
    assert [(e.entry_id, e.answered, e.helpful, e.not_helpful) for e in stats] == [
        (None, 1, 0, 0), ("login_trouble", 2, 1, 0), ("refunds", 1, 0, 1)]
