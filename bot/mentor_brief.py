"""The mentors' daily brief: each morning in the mentor's time zone, one message listing their
students at risk (lapsed, slipping, a missed goal, an open request), each with one line of why
and a button that opens the student's card (handled by the mentor commands: `card:<id>`).

Planned on the scheduler tick, once per mentor and local day (the delivery's unique key). A
mentor with nobody at risk gets no message: the brief is worth reading because it is not routine.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from bot.desk import STAFF_KIND
from bot.i18n import Gettext, Translator
from bot.messages import Choice, Reply
from scheduler import goal_texts as texts
from storage import at_risk as store
from storage import goals as goal_store
from storage.mentors import staff_address
from storage.tables import Delivery, Goal
from storage.upsert import insert_ignore

BRIEF_FROM, BRIEF_UNTIL = time(8), time(12)  # the mentor's local morning
MISSED_GOALS_WITHIN = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class Facts:
    """Why one student is on the brief."""

    student: store.StudentRisk
    missed: Goal | None
    request: int | None

    @property
    def at_risk(self) -> bool:
        lagging = self.student.engagement in ("lapsed", "slipping")
        return lagging or self.missed is not None or self.request is not None


class MentorBrief:
    def __init__(self, translator: Translator, fallback_zone: str) -> None:
        self.translator = translator
        self.fallback_zone = fallback_zone

    def run(self, session: Session, now: datetime) -> int:
        due = {m.id: m for m in store.mentors(session) if self._due(session, m, now)}
        found = at_risk(session, due, now) if due else {}
        return sum(self._send(session, due[mid], facts, now) for mid, facts in found.items())

    def _local(self, mentor: store.MentorRow, now: datetime) -> datetime:
        return now.astimezone(ZoneInfo(mentor.zone or self.fallback_zone))

    def _due(self, session: Session, mentor: store.MentorRow, now: datetime) -> bool:
        local = self._local(mentor, now)
        if not BRIEF_FROM <= local.time() < BRIEF_UNTIL:
            return False
        return not store.already_sent(session, brief_key(mentor.id, local))

    def _send(
        self, session: Session, mentor: store.MentorRow, found: list[Facts], now: datetime
    ) -> int:
        where = staff_address(session, mentor.id)
        if where is None:
            return 0
        t, local = self.translator.for_locale(mentor.locale), self._local(mentor, now)
        reply = brief_reply(t, found, now)
        row = dict(
            person_id=mentor.id,
            channel=where[0],
            address=where[1],
            kind=STAFF_KIND,
            text=reply.text,
            choices=[{"id": c.id, "label": c.label} for c in reply.choices],
            status="pending",
            due_at=now,
            attempts=0,
            dedupe_key=brief_key(mentor.id, local),
            expires_at=datetime.combine(local.date(), BRIEF_UNTIL, local.tzinfo),
            meta={"locale": t.locale, "template": "mentor_brief"},
            created_at=now,
            updated_at=now,
        )
        # Once per mentor and day, even with several processes: the key is unique.
        return insert_ignore(session, Delivery.__table__, row)


def brief_key(mentor_id: int, local: datetime) -> str:
    return f"brief:{mentor_id}:{local.date().isoformat()}"


def at_risk(
    session: Session, mentors: dict[int, store.MentorRow], now: datetime
) -> dict[int, list[Facts]]:
    """mentor id -> their students at risk, in name order."""
    students = store.students_of(session, mentors, now)
    ids = [s.id for s in students]
    missed = goal_store.missed_goals(session, ids, now - MISSED_GOALS_WITHIN)
    requests = store.open_requests(session, ids)
    found: dict[int, list[Facts]] = defaultdict(list)
    for student in students:
        facts = Facts(student, missed.get(student.id), requests.get(student.id))
        if facts.at_risk:
            found[student.mentor_id].append(facts)
    return dict(found)


def why(t: Gettext, facts: Facts, now: datetime) -> str:
    reasons = []
    seen = facts.student.last_seen_at
    if facts.student.engagement == "lapsed":
        days = (now - seen).days if seen else 0
        reasons.append(
            t.ngettext("lapsed: no activity for {n} day", "lapsed: no activity for {n} days", days)
        )
    elif facts.student.engagement == "slipping":
        reasons.append(t._("slipping: missing classes"))
    if facts.missed is not None:
        goal = texts.goal_label(t, facts.missed.kind, facts.missed.target, facts.missed.text)
        reasons.append(t._("missed goal: {goal}", goal=goal))
    if facts.request is not None:
        reasons.append(t._("open request #{number}", number=facts.request))
    return "; ".join(reasons)


def brief_reply(t: Gettext, found: list[Facts], now: datetime) -> Reply:
    head = t.ngettext(
        "Good morning! {n} student may need you today:",
        "Good morning! {n} students may need you today:",
        len(found),
    )
    lines = [f"• {f.student.name}: {why(t, f, now)}" for f in found]
    choices = tuple(
        Choice(f"card:{f.student.id}", t._("Card: {name}", name=f.student.name)) for f in found
    )
    return Reply("\n".join([head, *lines]), choices)
