"""Learning events and students from the LMS (HTTP API and CSV import): validate, then store.

Each call validates every row, stores the valid ones and returns the others with reasons.
Events are idempotent by their id; students are upserted by LMS id. Activity events move
`person.last_active_at` forward (the coaching-eligibility rule reads it) and `enrolled` moves
`enrolled_at`, never backwards.

A student row may say `under_13` (true/false) or give a `birth_date` (YYYY-MM-DD): under_13 is
then derived on the student's local today (UTC without a time zone) and the birth date is
dropped, never stored (data minimisation: under_13 is all the bot needs, and a re-import keeps
it current). Both together must agree. A row with neither keeps what is stored (new: not
under 13).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from core.events import ACTIVITY_EVENTS, EVENT_TYPES
from core.locales import SUPPORTED_LOCALES, is_known_zone
from storage.tables import LearningEvent, Person
from storage.upsert import insert_ignore

FUTURE_TOLERANCE = timedelta(minutes=5)
MINOR_AGE = 13
OLDEST_BIRTH_YEAR = 1900
Text = Field(min_length=1, max_length=128)


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Text
    student: str = Text  # the LMS id
    type: str
    occurred_at: AwareDatetime
    ref: str | None = Field(default=None, max_length=128)
    score: float | None = Field(default=None, ge=0, le=100)
    payload: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_type_and_score(self) -> EventIn:
        if self.type not in EVENT_TYPES:
            raise ValueError(f"unknown type {self.type!r}")
        if (self.type == "test_completed") != (self.score is not None):
            raise ValueError("score is required for test_completed, and only there")
        return self


class StudentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lms_id: str = Text
    name: str = Field(min_length=1, max_length=200)
    program: str | None = None
    track: str | None = None
    grade: str | None = None
    cohort: str | None = None
    locale: str | None = None
    time_zone: str | None = None
    mentor: str | None = None  # the mentor's LMS id
    under_13: bool | None = None
    birth_date: date | None = None  # read to derive under_13, never stored

    @field_validator("birth_date", mode="before")
    @classmethod
    def _iso_date(cls, value: Any) -> Any:
        """Only YYYY-MM-DD: a number or another layout could be read as some other day."""
        if value is None or isinstance(value, date):
            return value
        try:
            if isinstance(value, str) and len(value.strip()) == 10:
                return date.fromisoformat(value.strip())
        except ValueError:
            pass
        raise ValueError("not a valid date (expected YYYY-MM-DD)")

    @model_validator(mode="after")
    def _known_locale_and_zone(self) -> StudentIn:
        if self.locale and self.locale not in SUPPORTED_LOCALES:
            raise ValueError(f"locale must be one of {', '.join(SUPPORTED_LOCALES)}")
        if self.time_zone and not is_known_zone(self.time_zone):
            raise ValueError(f"unknown time zone {self.time_zone!r}")
        return self


@dataclass
class Outcome:
    stored: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)  # index, id, reasons


def _reasons(exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        message = str(err["msg"]).removeprefix("Value error, ")
        out.append(f"{where}: {message}" if where else message)
    return out


def _validate(model: type[BaseModel], rows: Sequence[Mapping[str, Any]], key: str,
              outcome: Outcome, first_index: int) -> list[tuple[int, Any]]:
    valid = []
    for index, raw in enumerate(rows, start=first_index):
        try:
            valid.append((index, model.model_validate(raw)))
        except ValidationError as exc:
            ident = raw.get(key) if isinstance(raw, Mapping) else None
            outcome.rejected.append({"index": index, "id": ident, "reasons": _reasons(exc)})
    return valid


def ingest_events(session: Session, rows: Sequence[Mapping[str, Any]], now: datetime,
                  first_index: int = 0) -> Outcome:
    outcome = Outcome()
    valid = _validate(EventIn, rows, "id", outcome, first_index)
    people = _ids_by_lms(session, {e.student for _i, e in valid})
    stored: list[dict[str, Any]] = []
    for index, event in valid:
        problem = None
        if event.student not in people:
            problem = "unknown student"
        elif event.occurred_at > now + FUTURE_TOLERANCE:
            problem = "occurred_at is in the future"
        if problem:
            outcome.rejected.append({"index": index, "id": event.id, "reasons": [problem]})
            continue
        stored.append(dict(event_id=event.id, person_id=people[event.student], type=event.type,
                           occurred_at=event.occurred_at, ref=event.ref, score=event.score,
                           payload=event.payload, created_at=now))
    outcome.stored = insert_ignore(session, LearningEvent.__table__, stored)
    outcome.duplicates = len(stored) - outcome.stored
    _move_forward(session, stored, ACTIVITY_EVENTS, "last_active_at")
    _move_forward(session, stored, frozenset({"enrolled"}), "enrolled_at")
    return outcome


def _ids_by_lms(session: Session, lms_ids: set[str]) -> dict[str, int]:
    if not lms_ids:
        return {}
    query = select(Person.lms_id, Person.id).where(Person.lms_id.in_(lms_ids))  # type: ignore[union-attr]
    return {lms: pid for lms, pid in session.execute(query)}


def _move_forward(session: Session, rows: list[dict[str, Any]], types: frozenset[str],
                  column: str) -> None:
    latest: dict[int, datetime] = {}
    for row in rows:
        pid, at = row["person_id"], row["occurred_at"]
        if row["type"] in types and (pid not in latest or at > latest[pid]):
            latest[pid] = at
    if not latest:
        return
    target = getattr(Person, column)
    statement = (update(Person)
                 .where(Person.id == bindparam("b_pid"),
                        (target.is_(None)) | (target < bindparam("b_at")))
                 .values({column: bindparam("b_at")}))
    session.connection().execute(statement, [{"b_pid": p, "b_at": a} for p, a in latest.items()])


def ingest_students(session: Session, rows: Sequence[Mapping[str, Any]], now: datetime,
                    first_index: int = 0) -> Outcome:
    outcome = Outcome()
    checked: list[tuple[StudentIn, bool | None]] = []
    for index, student in _validate(StudentIn, rows, "lms_id", outcome, first_index):
        try:
            checked.append((student, under_13_of(student, now)))
        except ValueError as exc:
            outcome.rejected.append({"index": index, "id": student.lms_id, "reasons": [str(exc)]})
    mentors = _ensure_mentors(session, {s.mentor for s, _u in checked if s.mentor}, now)
    aged: list[dict[str, Any]] = []
    unaged: list[dict[str, Any]] = []  # rows that say nothing about age: stored value kept
    for s, minor in checked:
        (unaged if minor is None else aged).append(dict(
            lms_id=s.lms_id, display_name=s.name, program=s.program, track=s.track,
            grade=s.grade, cohort=s.cohort, locale=s.locale, time_zone=s.time_zone,
            mentor_id=mentors.get(s.mentor or ""), role="student", under_13=bool(minor),
            created_at=now))
    _upsert_students(session, aged, with_age=True)
    _upsert_students(session, unaged, with_age=False)
    outcome.stored = len(checked)
    return outcome


def under_13_of(student: StudentIn, now: datetime) -> bool | None:
    """As given, or derived from the birth date on the student's local today; None when the
    row says nothing about age. ValueError for an impossible date or a pair that disagrees."""
    born = student.birth_date
    if born is None:
        return student.under_13
    today = now.astimezone(ZoneInfo(student.time_zone) if student.time_zone else UTC).date()
    if born > today:
        raise ValueError("birth_date: is in the future")
    if born.year < OLDEST_BIRTH_YEAR:
        raise ValueError(f"birth_date: is before {OLDEST_BIRTH_YEAR}")
    derived = today < _anniversary(born, MINOR_AGE)
    if student.under_13 is not None and student.under_13 != derived:
        # The reason names the flag, never the date itself: it is personal data.
        raise ValueError(f"under_13 is {str(student.under_13).lower()} but birth_date says "
                         f"{str(derived).lower()}")
    return derived


def _anniversary(born: date, years: int) -> date:
    """Born on 29 February: the day after 28 February in a common year (never early)."""
    try:
        return born.replace(year=born.year + years)
    except ValueError:
        return date(born.year + years, 3, 1)


def _upsert_students(session: Session, records: list[dict[str, Any]], with_age: bool) -> None:
    if not records:
        return
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = module.insert(Person.__table__).values(records)
    kept = ["display_name", "program", "track", "grade", "cohort", "locale", "time_zone",
            "mentor_id", *(["under_13"] if with_age else [])]
    session.execute(statement.on_conflict_do_update(
        index_elements=["lms_id"], set_={c: statement.excluded[c] for c in kept}))


def _ensure_mentors(session: Session, lms_ids: set[str], now: datetime) -> dict[str, int]:
    rows = [dict(lms_id=m, role="mentor", under_13=False, created_at=now) for m in lms_ids]
    insert_ignore(session, Person.__table__, rows)
    return _ids_by_lms(session, lms_ids)
