"""Students' links, the rate-limit counter and identity moves in the database, on SQLite and
PostgreSQL: a link opens once and only before it expires, two processes opening the same link
never both win, concurrent hits on one counter are never lost, and a moved chat leaves the
student with exactly one identity on the channel."""

from __future__ import annotations

import multiprocessing
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from storage import people, rate_limits, student_links
from storage.database import Database, create_db_engine
from storage.mentors import INVITATION_PREFIX
from storage.tables import Identity, Person, RateLimit, StudentLink

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
WEEK = timedelta(days=7)
WINDOW = timedelta(minutes=15)
TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def student(
    db: Database, lms_id: str, *, role: str = "student", address: str | None = None
) -> int:
    def create(session: Any) -> int:
        row = Person(role=role, display_name=lms_id, lms_id=lms_id, created_at=NOW)
        session.add(row)
        session.flush()
        if address is not None:
            people.link_identity(session, row.id, "telegram", address, NOW)
        return int(row.id)

    return db.run_sync(create)


def new_link(db: Database, lms_id: str, now: datetime = NOW) -> str:
    made = db.run_sync(lambda s: student_links.create_link(s, lms_id, now, WEEK))
    assert made is not None and made.expires_at == now + WEEK
    return made.token


def redeem(db: Database, token: str, now: datetime = NOW) -> int | None:
    return db.run_sync(lambda s: student_links.redeem_link(s, token, now))


def test_each_link_is_new_random_and_kept_only_as_a_hash(db: Database) -> None:
    student(db, "edx-1")
    tokens = {new_link(db, "edx-1") for _ in range(3)}
    assert len(tokens) == 3
    for token in tokens:
        assert TOKEN_SHAPE.match(token), token  # fits Telegram's /start payload
        assert token.startswith(student_links.LINK_PREFIX)
        assert not token.startswith(INVITATION_PREFIX)
    stored = db.run_sync(lambda s: list(s.execute(select(StudentLink)).scalars()))
    assert len(stored) == 3
    assert not any(token in row.token_hash for row in stored for token in tokens)


def test_no_link_for_an_unknown_erased_or_staff_person(db: Database) -> None:
    student(db, "m-1", role="mentor")
    erased = student(db, "edx-gone")
    db.run_sync(
        lambda s: s.execute(update(Person).where(Person.id == erased).values(erased_at=NOW))
    )
    for lms_id in ("nobody", "m-1", "edx-gone"):
        assert db.run_sync(lambda s, i=lms_id: student_links.create_link(s, i, NOW, WEEK)) is None


def test_a_link_opens_once_and_only_before_it_expires(db: Database) -> None:
    ana = student(db, "edx-ana")
    token = new_link(db, "edx-ana")
    assert redeem(db, token + "x") is None  # forged
    assert redeem(db, token) == ana
    assert redeem(db, token) is None  # used
    assert db.run_sync(lambda s: student_links.link_owner(s, token)) == ana
    late = new_link(db, "edx-ana")
    assert redeem(db, late, NOW + WEEK) is None  # expired at the very moment
    assert redeem(db, late, NOW + WEEK - timedelta(seconds=1)) == ana


def test_an_erased_students_link_no_longer_opens(db: Database) -> None:
    ana = student(db, "edx-ana")
    token = new_link(db, "edx-ana")
    db.run_sync(lambda s: s.execute(update(Person).where(Person.id == ana).values(erased_at=NOW)))
    assert redeem(db, token) is None


def _redeem_in_a_process(url: str, token: str, barrier: Any, results: Any) -> None:
    database = Database(create_db_engine(url))
    barrier.wait()
    results.put(database.run_sync(lambda s: student_links.redeem_link(s, token, NOW)))
    database.close()


def _hit_in_a_process(url: str, barrier: Any, results: Any) -> None:
    database = Database(create_db_engine(url))
    barrier.wait()
    results.put(database.run_sync(lambda s: rate_limits.hit(s, "race", NOW, WINDOW, 2)))
    database.close()


def _race(target: Any, args: tuple[Any, ...], processes: int) -> list[Any]:
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(processes), context.Queue()
    started = [
        context.Process(target=target, args=(*args, barrier, results)) for _ in range(processes)
    ]
    for process in started:
        process.start()
    found = [results.get(timeout=60) for _ in started]
    for process in started:
        process.join(timeout=60)
        assert process.exitcode == 0
    return found


def test_two_processes_opening_the_same_link_never_both_win(
    db: Database, database_url: str
) -> None:
    ana = student(db, "edx-ana")
    for _round in range(3):
        token = new_link(db, "edx-ana")
        outcome = _race(_redeem_in_a_process, (database_url, token), 2)
        assert sorted(outcome, key=str) == [ana, None], outcome


def test_concurrent_hits_on_one_key_are_all_counted(db: Database, database_url: str) -> None:
    allowed = _race(_hit_in_a_process, (database_url,), 4)
    assert sorted(allowed) == [False, False, True, True]  # limit 2: two in, two over
    row = db.run_sync(lambda s: s.get(RateLimit, "race"))
    assert row.count == 4


def hit(db: Database, key: str, now: datetime, limit: int = 3) -> bool:
    return db.run_sync(lambda s: rate_limits.hit(s, key, now, WINDOW, limit))


def exceeded(db: Database, key: str, now: datetime, limit: int = 3) -> bool:
    return db.run_sync(lambda s: rate_limits.exceeded(s, key, now, WINDOW, limit))


def test_a_fixed_window_counter(db: Database) -> None:
    assert not exceeded(db, "k", NOW)
    assert [hit(db, "k", NOW + timedelta(minutes=i)) for i in range(4)] == [
        True,
        True,
        True,
        False,
    ]
    assert exceeded(db, "k", NOW + timedelta(minutes=14))
    assert not exceeded(db, "other", NOW)  # keys are counted apart
    assert hit(db, "other", NOW)
    later = NOW + WINDOW  # the window that began at NOW is over: counting starts again
    assert not exceeded(db, "k", later)
    assert hit(db, "k", later)
    row = db.run_sync(lambda s: s.get(RateLimit, "k"))
    assert (row.window_start, row.count) == (later, 1)


def identities(db: Database, person_id: int) -> list[tuple[str, str]]:
    query = select(Identity.channel, Identity.address).where(Identity.person_id == person_id)
    return sorted(db.run_sync(lambda s: [tuple(r) for r in s.execute(query)]))


def test_moving_a_chat_leaves_one_identity_on_the_channel(db: Database) -> None:
    ana = student(db, "edx-ana", address="111")
    db.run_sync(lambda s: people.link_identity(s, ana, "webchat", "web-ana", NOW))
    visitor = db.run_sync(lambda s: people.create_person(s, "telegram", "222", NOW).id)
    db.run_sync(
        lambda s: s.execute(
            update(Identity).where(Identity.address == "222").values(opted_out=True)
        )
    )
    removed = db.run_sync(lambda s: people.move_identity(s, "telegram", "222", ana, NOW))
    assert removed == ["111"]
    assert identities(db, ana) == [("telegram", "222"), ("webchat", "web-ana")]
    assert identities(db, visitor) == []
    moved = db.run_sync(
        lambda s: s.execute(select(Identity).where(Identity.address == "222")).scalar_one()
    )
    assert moved.opted_out  # the chat's own STOP stays with the chat
    again = db.run_sync(lambda s: people.move_identity(s, "telegram", "222", ana, NOW))
    assert again == [] and identities(db, ana) == [("telegram", "222"), ("webchat", "web-ana")]
    fresh = db.run_sync(lambda s: people.move_identity(s, "telegram", "333", ana, NOW))
    assert fresh == ["222"]
    assert identities(db, ana) == [("telegram", "333"), ("webchat", "web-ana")]
