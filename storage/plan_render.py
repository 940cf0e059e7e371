"""What the nudge renderer reads and writes, a batch of planned rows at a time."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlmodel import Session

from scheduler.personas import ACTIVITY_EVENTS
from storage.tables import Delivery, LearningEvent, Person

# Social proof: classmates given the same thing (anchor type) and how many did it (done type).
PEER_DONE = {"assignment_assigned": "assignment_submitted", "test_started": "test_completed"}


@dataclass(frozen=True, slots=True)
class PlannedRow:
    id: int
    person_id: int
    campaign_id: str
    channel: str
    segment: str
    anchor_event_id: int | None
    step: int
    due_at: datetime


def claim_planned(session: Session, limit: int) -> list[PlannedRow]:
    """Planned rows to render; on PostgreSQL parallel renderers take disjoint batches."""
    query = (select(Delivery.id, Delivery.person_id, Delivery.campaign_id, Delivery.channel,
                    Delivery.segment, Delivery.anchor_event_id, Delivery.step, Delivery.due_at)
             .where(Delivery.status == "planned").order_by(Delivery.id).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return [PlannedRow(*row) for row in session.execute(query).all()]


def people_for(session: Session, ids: Iterable[int]) -> dict[int, Any]:
    """Rows (not ORM objects: a batch is thousands) with the person's rendering fields."""
    query = select(Person.id, Person.display_name, Person.locale, Person.time_zone,
                   Person.program, Person.cohort).where(Person.id.in_(set(ids)))  # type: ignore[union-attr]
    return {row.id: row for row in session.execute(query)}


def anchors_for(session: Session, ids: Iterable[int | None]) -> dict[int, Any]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    query = select(LearningEvent.id, LearningEvent.type, LearningEvent.occurred_at,
                   LearningEvent.ref, LearningEvent.score, LearningEvent.payload).where(
        LearningEvent.id.in_(wanted))  # type: ignore[union-attr]
    return {row.id: row for row in session.execute(query)}


def activity_since(session: Session, person_ids: Iterable[int], since: datetime,
                   until: datetime) -> dict[int, list[datetime]]:
    """Activity times per person in (since, until], oldest first (active hours, streaks)."""
    query = (select(LearningEvent.person_id, LearningEvent.occurred_at)
             .where(LearningEvent.person_id.in_(set(person_ids)),  # type: ignore[attr-defined]
                    LearningEvent.type.in_(sorted(ACTIVITY_EVENTS)),  # type: ignore[attr-defined]
                    LearningEvent.occurred_at > since, LearningEvent.occurred_at <= until)
             .order_by(LearningEvent.person_id, LearningEvent.occurred_at))
    found: dict[int, list[datetime]] = defaultdict(list)
    for person_id, at in session.execute(query):
        found[person_id].append(at)
    return found


def last_seen(session: Session, person_ids: Iterable[int],
              until: datetime) -> dict[int, datetime]:
    query = (select(LearningEvent.person_id, func.max(LearningEvent.occurred_at))
             .where(LearningEvent.person_id.in_(set(person_ids)),  # type: ignore[attr-defined]
                    LearningEvent.type.in_(sorted(ACTIVITY_EVENTS)),  # type: ignore[attr-defined]
                    LearningEvent.occurred_at <= until)
             .group_by(LearningEvent.person_id))
    return {pid: at for pid, at in session.execute(query)}


def peer_counts(session: Session, wanted: set[tuple[str, str]]
                ) -> dict[tuple[str, str], tuple[int, int]]:
    """(ref, anchor type) -> (classmates done, classmates given it), excluding the person.

    Classmates are the students given the same class, assignment or test (`ref`): refs are
    per class in the LMS. Counted from the covering index on (ref, type, person_id).
    """
    if not wanted:
        return {}
    types = {t for _r, t in wanted} | {PEER_DONE[t] for _r, t in wanted}
    query = (select(LearningEvent.ref, LearningEvent.type,
                    func.count(func.distinct(LearningEvent.person_id)))
             .where(LearningEvent.ref.in_({r for r, _t in wanted}),  # type: ignore[union-attr]
                    LearningEvent.type.in_(types))  # type: ignore[attr-defined]
             .group_by(LearningEvent.ref, LearningEvent.type))
    counts = {(r, t): n for r, t, n in session.execute(query)}
    return {(r, t): (counts.get((r, PEER_DONE[t]), 0), counts.get((r, t), 0) - 1)
            for r, t in wanted}


def save_rendered(session: Session, updates: Sequence[dict[str, Any]]) -> None:
    """Each update: b_id, b_status, b_text, b_due, b_expires, b_meta, b_error."""
    if not updates:
        return
    statement = (update(Delivery).where(Delivery.id == bindparam("b_id"))
                 .values(status=bindparam("b_status"), text=bindparam("b_text"),
                         due_at=bindparam("b_due"), expires_at=bindparam("b_expires"),
                         meta=bindparam("b_meta"), error=bindparam("b_error"),
                         updated_at=bindparam("b_now")))
    session.connection().execute(statement, list(updates))
