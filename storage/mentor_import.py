"""Mentors from a CSV file: name, lms_id, languages, time_zone, working_hours, capacity.

Upserted by LMS id (a mentor named in the students import already exists by LMS id and gets
its name and profile here). `languages` is a list like "en es"; `working_hours` is
"09:00-17:00" (Monday to Friday, in the mentor's zone).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import update
from sqlmodel import Session

from core.locales import SUPPORTED_LOCALES, is_known_zone
from storage.ingest import Outcome, _ids_by_lms, _validate
from storage.mentors import ensure_profile
from storage.tables import Person
from storage.upsert import insert_ignore

_HOURS = re.compile(r"([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)")


class MentorIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    lms_id: str = Field(min_length=1, max_length=128)
    languages: str = "en"
    time_zone: str | None = None
    working_hours: str = "09:00-17:00"
    capacity: int = Field(default=10, ge=1, le=500)

    @field_validator("languages")
    @classmethod
    def _known_languages(cls, value: str) -> str:
        unknown = [x for x in value.replace(",", " ").split() if x not in SUPPORTED_LOCALES]
        if unknown:
            raise ValueError(f"unknown languages {unknown}: use {', '.join(SUPPORTED_LOCALES)}")
        return value

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value and not is_known_zone(value):
            raise ValueError(f"unknown time zone {value!r}")
        return value

    @field_validator("working_hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        match = _HOURS.fullmatch(value.strip())
        if not match or match[1] + match[2] >= match[3] + match[4]:
            raise ValueError("working_hours must look like 09:00-17:00 (start before end)")
        return value.strip()


def ingest_mentors(session: Session, rows: Sequence[Mapping[str, Any]], now: datetime,
                   first_index: int = 0) -> Outcome:  # fmt: skip
    outcome = Outcome()
    valid = [m for _i, m in _validate(MentorIn, rows, "lms_id", outcome, first_index)]
    people = [dict(lms_id=m.lms_id, role="mentor", under_13=False, created_at=now) for m in valid]
    insert_ignore(session, Person.__table__, people)
    ids = _ids_by_lms(session, {m.lms_id for m in valid})
    for mentor in valid:
        person_id = ids[mentor.lms_id]
        session.execute(update(Person).where(Person.id == person_id).values(
            display_name=mentor.name, role="mentor", time_zone=mentor.time_zone))  # fmt: skip
        start, end = mentor.working_hours.split("-")
        ensure_profile(session, person_id, now, languages=mentor.languages.replace(",", " ")
                       .split(), work_start=start, work_end=end, capacity=mentor.capacity)
    outcome.stored = len(valid)
    return outcome
