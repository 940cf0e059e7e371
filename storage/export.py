"""Everything held about one person, as plain JSON-ready data (/mydata's file, the export API).

Each section reads one table; `SECTIONS` names them so the export and its test cannot drift
apart from the tables that hold personal data (tests/test_data_rights.py checks both).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlmodel import Session

from storage.sms import opt_outs_for
from storage.tables import (
    Badge,
    ConsentRecord,
    Delivery,
    Escalation,
    Goal,
    Guardian,
    Identity,
    KnowledgeAnswer,
    LearningEvent,
    MentorNote,
    MessageLog,
    Person,
    StudyPlan,
    StudyPrefs,
)

EXPORT_VERSION = 1
_PROFILE = (
    "role", "display_name", "locale", "time_zone", "lms_id", "program", "track", "grade",
    "cohort", "enrolled_at", "last_active_at", "under_13", "phone_e164", "created_at",
)  # fmt: skip


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _rows(session: Session, query: Any, names: tuple[str, ...]) -> list[dict[str, Any]]:
    return [{n: _plain(getattr(r, n)) for n in names} for r in session.execute(query).scalars()]


def _identities(session: Session, pid: int) -> list[dict[str, Any]]:
    query = select(Identity).where(Identity.person_id == pid).order_by(Identity.id)
    return _rows(session, query, ("channel", "address", "reachable", "opted_out", "created_at"))


def _consents(session: Session, pid: int) -> list[dict[str, Any]]:
    query = select(ConsentRecord).where(ConsentRecord.person_id == pid).order_by(ConsentRecord.id)
    names = ("created_at", "purpose", "decision", "phone_e164", "channel", "text_version", "actor")
    return _rows(session, query, names)


def _messages(session: Session, pid: int) -> list[dict[str, Any]]:
    query = select(MessageLog).where(MessageLog.person_id == pid).order_by(MessageLog.id)
    return _rows(session, query, ("created_at", "channel", "direction", "text"))


def _deliveries(session: Session, pid: int) -> list[dict[str, Any]]:
    query = select(Delivery).where(Delivery.person_id == pid).order_by(Delivery.id)
    return _rows(session, query, ("created_at", "channel", "kind", "status", "text", "sent_at"))


def _events(session: Session, pid: int) -> list[dict[str, Any]]:
    query = select(LearningEvent).where(LearningEvent.person_id == pid)
    return _rows(session, query.order_by(LearningEvent.occurred_at),
                 ("occurred_at", "type", "ref", "score", "payload"))  # fmt: skip


def _guardians(session: Session, pid: int) -> list[dict[str, Any]]:
    links = session.execute(
        select(Guardian).where(or_(Guardian.parent_id == pid, Guardian.student_id == pid))
    ).scalars()
    result = []
    for link in links:
        other_id, relation = (
            (link.student_id, "child") if link.parent_id == pid else (link.parent_id, "parent")
        )
        other = session.get(Person, other_id)
        result.append({"relation": relation, "name": other.display_name if other else None,
                       "since": _plain(link.created_at)})  # fmt: skip
    return result


def _escalations(session: Session, pid: int) -> list[dict[str, Any]]:
    query = select(Escalation).where(Escalation.person_id == pid).order_by(Escalation.id)
    names = ("created_at", "status", "priority", "reasons", "tags", "closed_at", "resolution")
    return _rows(session, query, names)


def _notes(session: Session, pid: int) -> list[dict[str, Any]]:
    query = select(MentorNote).where(MentorNote.student_id == pid).order_by(MentorNote.id)
    return _rows(session, query, ("created_at", "text"))


def _answers(session: Session, pid: int) -> list[dict[str, Any]]:
    query = select(KnowledgeAnswer).where(KnowledgeAnswer.person_id == pid)
    return _rows(session, query.order_by(KnowledgeAnswer.id),
                 ("created_at", "entry_id", "locale", "helpful"))  # fmt: skip


def _opt_outs(session: Session, pid: int) -> list[dict[str, Any]]:
    person = session.get(Person, pid)
    sms = select(Identity.address).where(Identity.person_id == pid, Identity.channel == "sms")
    phones = set(session.execute(sms).scalars())
    if person is not None and person.phone_e164:
        phones.add(person.phone_e164)
    found = opt_outs_for(session, phones)  # by the number, or by its hash
    return [{"phone_e164": phone, "opted_out": row.opted_out,
             "paused_until": _plain(row.paused_until), "updated_at": _plain(row.updated_at)}
            for phone, row in sorted(found.items())]  # fmt: skip


def _goals(session: Session, pid: int) -> list[dict[str, Any]]:
    query = select(Goal).where(Goal.person_id == pid).order_by(Goal.week_start, Goal.id)
    names = ("week_start", "kind", "target", "text", "status", "progress", "checked_in_at")
    return _rows(session, query, names)


def _plans(session: Session, pid: int) -> list[dict[str, Any]]:
    """Weekly plans, and the plan day the student chose (as a last row), if they did."""
    query = select(StudyPlan).where(StudyPlan.person_id == pid).order_by(StudyPlan.week_start)
    found = _rows(session, query, ("week_start", "status", "items", "accepted_at"))
    day = session.get(StudyPrefs, pid)
    return found + ([{"plan_weekday": day.plan_weekday}] if day is not None else [])


def _badges(session: Session, pid: int) -> list[dict[str, Any]]:
    query = select(Badge).where(Badge.person_id == pid).order_by(Badge.earned_at)
    return _rows(session, query, ("badge", "earned_at"))


SECTIONS: dict[str, Callable[[Session, int], list[dict[str, Any]]]] = {
    "channels": _identities,
    "consents": _consents,
    "messages": _messages,
    "deliveries": _deliveries,
    "learning_events": _events,
    "guardians": _guardians,
    "escalations": _escalations,
    "mentor_notes": _notes,
    "answers": _answers,
    "opt_outs": _opt_outs,
    "goals": _goals,
    "plans": _plans,
    "badges": _badges,
}


def export_person(session: Session, person_id: int, now: datetime) -> dict[str, Any] | None:
    """None when there is no such person (or they were erased: nothing is held)."""
    person = session.get(Person, person_id)
    if person is None or person.erased_at is not None:
        return None
    data: dict[str, Any] = {
        "export_version": EXPORT_VERSION,
        "exported_at": now.isoformat(),
        "person_id": person_id,
        "profile": {n: _plain(getattr(person, n)) for n in _PROFILE},
    }
    for name, read in SECTIONS.items():
        data[name] = read(session, person_id)
    return data
