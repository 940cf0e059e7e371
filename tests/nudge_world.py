"""A small cohort for nudge tests: students with identities, consent and learning events."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from itertools import count
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from bot.app import Runtime
from scheduler.campaigns import load_campaigns
from scheduler.planner import NudgeConfig, Planner
from storage.events import record_events
from storage.tables import ConsentRecord, Delivery, Identity, Person

_ids = count(1)


@dataclass
class Student:
    id: int
    name: str
    zone: str
    addresses: dict[str, str] = field(default_factory=dict)


def add_student(runtime: Runtime, name: str, *, zone: str = "America/New_York",
                locale: str = "en", channels: tuple[str, ...] = ("webchat",),
                consent: str | None = "granted", cohort: str = "c1", grade: str = "7",
                lms_id: str | None = None) -> Student:
    now = runtime.clock.now()

    def write(session: Session) -> Student:
        person = Person(role="student", display_name=name, locale=locale, time_zone=zone,
                        cohort=cohort, grade=grade, program="microbachelors-cs",
                        track="verified", lms_id=lms_id or f"lms-{name.lower()}", created_at=now)
        session.add(person)
        session.flush()
        student = Student(person.id or 0, name, zone)
        for channel in channels:
            address = f"+1212555{person.id:04d}" if channel == "sms" else f"{channel}-{name}"
            session.add(Identity(person_id=person.id, channel=channel, address=address,
                                 created_at=now))
            student.addresses[channel] = address
        if consent:
            session.add(ConsentRecord(person_id=person.id, purpose="coaching",
                                      decision=consent, created_at=now))
        return student

    return runtime.db.run_sync(write)


def add_event(runtime: Runtime, student: Student, kind: str, at: datetime, *,
              ref: str | None = None, score: float | None = None,
              payload: dict[str, Any] | None = None) -> None:
    row = dict(event_id=f"ev-{next(_ids)}", person_id=student.id, type=kind, occurred_at=at,
               ref=ref, score=score, payload=payload or {}, created_at=at)
    runtime.db.run_sync(lambda s: record_events(s, [row]))


def make_planner(runtime: Runtime, campaigns_file: str | None = None) -> Planner:
    from pathlib import Path

    path = campaigns_file or Path(__file__).resolve().parent.parent / "scheduler/campaigns.yaml"
    return Planner(load_campaigns(path), runtime.translator, NudgeConfig(),
                   lambda: runtime.dispatcher.channels)


def deliveries(runtime: Runtime, person_id: int | None = None) -> list[Delivery]:
    def read(session: Session) -> list[Delivery]:
        query = select(Delivery).where(Delivery.kind == "nudge").order_by(Delivery.id)
        if person_id is not None:
            query = query.where(Delivery.person_id == person_id)
        return list(session.execute(query).scalars())

    return runtime.db.run_sync(read)
