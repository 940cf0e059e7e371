"""The seed's acceptance: ten eligible learners go through consent without errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from bot.app import Runtime, build_runtime
from bot.clock import FakeClock
from storage.tables import ConsentRecord, Delivery, Person
from tests.conftest import make_settings
from tests.transcript import add_student

NUMBERS = [  # (typed number, expected to consent?)
    ("(415) 555-2671", True),
    ("+1 212 555 0143", True),
    ("646-555-0101", True),
    ("+44 7911 123456", False),
    ("+1 416 555 0123", False),
    ("312 555 0188", True),
    ("+91 98765 43210", False),
    ("+1 787 555 1234", False),
    ("1-206-555-0100", True),
    ("+7 912 345 67 89", False),
]


@pytest.fixture
def runtime(database_url: str, clock: FakeClock) -> Iterator[Runtime]:
    rt = build_runtime(make_settings(database_url), clock=clock)
    yield rt
    rt.db.close()


async def test_ten_eligible_students_with_us_and_foreign_numbers(runtime: Runtime) -> None:
    students = [add_student(runtime, f"Student{i}") for i in range(len(NUMBERS))]
    for student, (number, us) in zip(students, NUMBERS, strict=True):
        await student.says("hi")
        reply = await student.says(number)
        if us:
            assert "Do you agree" in reply[0].text
            await student.picks("yes")
        else:
            assert "only text US phone numbers" in reply[0].text
            declined = await student.picks("decline")
            # Coaching was out of reach: study reminders get a question of their own.
            assert "study reminders" in declined[-1].text
            await student.picks("yes")
        for later in ("hi", "/start", "thanks"):
            await student.says(later)

    for student, (_number, us) in zip(students, NUMBERS, strict=True):
        assert sum(r.request_phone for r in student.heard) == 1, "nobody is asked twice"
        asked = sum("May we send you study reminders" in t for t in student.texts())
        assert asked == (0 if us else 1), "reminders: asked once, and only without coaching"
        assert all("Sorry, something went wrong" not in t for t in student.texts())

    records = runtime.db.run_sync(
        lambda s: s.execute(
            select(Person.display_name, ConsentRecord.decision, ConsentRecord.phone_e164)
            .join(Person, Person.id == ConsentRecord.person_id)
            .where(ConsentRecord.purpose == "coaching")
            .order_by(ConsentRecord.id)
        ).all()
    )
    by_name = {name: (decision, phone) for name, decision, phone in records}
    assert len(records) == len(NUMBERS)
    reminders = runtime.db.run_sync(
        lambda s: s.execute(
            select(ConsentRecord.decision).where(ConsentRecord.purpose == "nudges")
        ).scalars().all()
    )
    assert reminders == ["granted"] * sum(1 for _n, us in NUMBERS if not us)
    for i, (_number, us) in enumerate(NUMBERS):
        decision, phone = by_name[f"Student{i}"]
        assert decision == ("granted" if us else "declined")
        assert phone is not None and phone.startswith("+1" if us else "+")
    granted = [p for d, p in by_name.values() if d == "granted"]
    assert all(p.startswith("+1") for p in granted) and len(granted) == 5
    stuck = runtime.db.run_sync(
        lambda s: s.execute(select(Delivery.id).where(Delivery.status == "failed")).all()
    )
    assert stuck == []
