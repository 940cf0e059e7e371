"""A small demo cohort, so a newcomer meets the consent workflow within a minute."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from storage.guardians import link_guardian
from storage.mentors import ensure_profile
from storage.tables import Person

DEMO_TAG = "demo"


@dataclass(frozen=True, slots=True)
class DemoPerson:
    key: str
    name: str
    about: str
    role: str = "student"
    locale: str = "en"
    zone: str = "America/New_York"
    track: str | None = "verified"
    program: str | None = "microbachelors-cs"
    active_days_ago: int | None = 3
    under_13: bool = False
    parent_of: str | None = None  # a parent's child (a demo key): linked as a guardian
    phone: str | None = None


COHORT = (
    DemoPerson("ana", "Ana García", "eligible student (English)"),
    DemoPerson(
        "lucia",
        "Lucía Torres",
        "eligible student (Spanish)",
        locale="es",
        zone="America/Los_Angeles",
    ),
    DemoPerson(
        "ravi",
        "Ravi Kumar",
        "eligible student (Hindi)",
        locale="hi",
        zone="America/Chicago",
        program="microbachelors-it",
    ),
    DemoPerson(
        "olga", "Olga Petrova", "eligible student (Russian)", locale="ru", zone="America/Denver"
    ),
    DemoPerson("sam", "Sam Lee", "ineligible: audit track", track="audit"),
    DemoPerson("jo", "Jo Park", "ineligible: inactive for 4 months", active_days_ago=120),
    DemoPerson("mia", "Mia Chen", "student under 13 (never asked for a phone)", under_13=True),
    DemoPerson(
        "laura",
        "Laura García",
        "parent of Ana",
        role="parent",
        track=None,
        program=None,
        active_days_ago=None,
    ),
    DemoPerson(
        "wei",
        "Wei Chen",
        "parent of Mia (decides her study reminders)",
        role="parent",
        track=None,
        program=None,
        active_days_ago=None,
        parent_of="mia",
        phone="+12125550147",
    ),
    DemoPerson(
        "dana",
        "Dana Brooks",
        "mentor (takes escalated conversations: /queue, /take)",
        role="mentor",
        track=None,
        program=None,
        active_days_ago=None,
    ),
    DemoPerson(
        "kai",
        "Kai Morgan",
        "admin (/campaigns, /audit; takes escalations too)",
        role="admin",
        track=None,
        program=None,
        active_days_ago=None,
    ),
)


def is_empty(session: Session) -> bool:
    return not session.execute(select(func.count()).select_from(Person)).scalar()


def seed_demo(session: Session, now: datetime) -> int:
    """Insert the cohort (again); people are keyed by LMS id, so a re-run adds nothing twice."""
    added = 0
    for demo in COHORT:
        lms_id = f"{DEMO_TAG}-{demo.key}"
        if session.execute(select(Person.id).where(Person.lms_id == lms_id)).first():
            continue
        session.add(_person(demo, lms_id, now))
        added += 1
    session.flush()
    _assign_mentor(session, now)
    _link_parents(session, now)
    return added


def _link_parents(session: Session, now: datetime) -> None:
    for demo in COHORT:
        if demo.parent_of is None:
            continue
        keys = (f"{DEMO_TAG}-{demo.key}", f"{DEMO_TAG}-{demo.parent_of}")
        found = session.execute(select(Person).where(Person.lms_id.in_(keys))).scalars()  # type: ignore[union-attr]
        people = {p.lms_id: p for p in found}
        if len(people) == 2:  # both still there (a demo person may have been erased)
            link_guardian(session, people[keys[0]], people[keys[1]], 6, now)


def _person(demo: DemoPerson, lms_id: str, now: datetime) -> Person:
    active = None if demo.active_days_ago is None else now - timedelta(days=demo.active_days_ago)
    return Person(
        role=demo.role,
        display_name=demo.name,
        locale=demo.locale,
        time_zone=demo.zone,
        lms_id=lms_id,
        program=demo.program,
        track=demo.track,
        enrolled_at=now - timedelta(days=30),
        last_active_at=active,
        under_13=demo.under_13,
        phone_e164=demo.phone,
        created_at=now,
    )


def _assign_mentor(session: Session, now: datetime) -> None:
    by_key = {
        p.lms_id: p
        for p in session.execute(
            select(Person).where(Person.lms_id.like(f"{DEMO_TAG}-%"))
        ).scalars()
    }  # type: ignore[union-attr]
    mentor = by_key.get(f"{DEMO_TAG}-dana")
    if mentor is not None:
        # Around the clock and in every language, so the demo always has a mentor at work.
        ensure_profile(session, mentor.id or 0, now, languages=["en", "es", "hi", "ru"],
                       work_start="00:00", work_end="23:59", work_days=list(range(7)))
    for person in by_key.values():
        if person.role == "student" and mentor is not None and person.mentor_id is None:
            person.mentor_id = mentor.id


def demo_people(session: Session) -> list[dict[str, Any]]:
    """Who the web chat visitor may chat as: the demo cohort, with what makes each one special."""
    about = {f"{DEMO_TAG}-{d.key}": d.about for d in COHORT}
    rows = session.execute(
        select(Person)
        .where(Person.lms_id.in_(about))  # type: ignore[union-attr]
        .order_by(Person.id)
    ).scalars()
    return [
        {"id": p.id, "name": p.display_name, "about": about[p.lms_id or ""], "role": p.role}
        for p in rows
        if p.erased_at is None
    ]
