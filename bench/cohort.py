"""A synthetic cohort for benchmarks: rows streamed in id order, never all in memory."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

ZONES = (("America/New_York", "en"), ("America/Mexico_City", "es"), ("Europe/Moscow", "ru"),
         ("Asia/Kolkata", "hi"), ("Europe/Madrid", "es"))
COHORT_SIZE = 50
Stamp = Callable[[datetime], Any]


def person_rows(students: int, now: datetime, stamp: Stamp,
                rng: random.Random) -> Iterator[tuple[str, tuple[str, ...], Iterator]]:
    created = stamp(now - timedelta(days=200))

    def people() -> Iterator[tuple[Any, ...]]:
        for pid in range(1, students + 1):
            zone, locale = ZONES[pid % len(ZONES)]
            yield (pid, "student", f"Student {pid}", locale, zone, f"lms-{pid}",
                   "microbachelors-cs", "verified", str(5 + pid % 8), f"c{pid // COHORT_SIZE}",
                   False, created)

    def identities() -> Iterator[tuple[Any, ...]]:
        for pid in range(1, students + 1):
            yield (pid, "telegram", f"tg-{pid}", True, created)
            if pid % 2:
                yield (pid, "sms", f"+1212{pid:07d}", True, created)

    def consents() -> Iterator[tuple[Any, ...]]:
        for pid in range(1, students + 1):
            if rng.random() < 0.85:
                yield (pid, "coaching", "granted", "self", created)

    yield "person", ("id", "role", "display_name", "locale", "time_zone", "lms_id", "program",
                     "track", "grade", "cohort", "under_13", "created_at"), people()
    yield "identity", ("person_id", "channel", "address", "reachable", "created_at"), identities()
    yield "consent_record", ("person_id", "purpose", "decision", "actor", "created_at"), consents()


def event_rows(students: int, now: datetime, stamp: Stamp,
               rng: random.Random) -> Iterator[tuple[Any, ...]]:
    serial = 0
    for pid in range(1, students + 1):
        for kind, days_ago, ref, score in _history(pid, rng):
            serial += 1
            at = now - timedelta(days=days_ago)
            yield (f"e{serial}", pid, kind, stamp(at), ref, score, "{}", stamp(at))


History = Iterator[tuple[str, float, str | None, float | None]]


def _history(pid: int, rng: random.Random) -> History:
    cohort = pid // COHORT_SIZE
    lapsed = rng.random() < 0.15
    attendance = rng.choice((0.95, 0.8, 0.5))
    yield "enrolled", rng.uniform(20, 120), None, None
    for _ in range(4):
        yield "login", rng.uniform(15, 60) if lapsed else rng.uniform(0, 14), None, None
    for k in range(3):
        day = 2 + k * 6 + rng.random()
        attended = not lapsed and rng.random() < attendance
        yield ("class_attended" if attended else "class_missed"), day, f"cls-{cohort}-{k}", None
    assigned = rng.uniform(0, 10)
    yield "assignment_assigned", assigned, f"hw-{cohort}", None
    if rng.random() < 0.6:
        yield "assignment_submitted", rng.uniform(0, assigned), f"hw-{cohort}", None
    if rng.random() < 0.4:
        started = rng.uniform(0, 10)
        yield "test_started", started, f"t-{cohort}", None
        if rng.random() < 0.7:
            yield "test_completed", started * 0.9, f"t-{cohort}", float(rng.randint(20, 100))
