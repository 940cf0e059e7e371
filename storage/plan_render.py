"""What the nudge renderer reads and writes, a batch of planned rows at a time."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, String, Table, bindparam, func, select, type_coerce, update
from sqlmodel import Session

from core.events import ACTIVITY_EVENTS
from storage.tables import Delivery, LearningEvent, Person

# Social proof: classmates given the same thing (anchor type) and how many did it (done type).
PEER_DONE = {"assignment_assigned": "assignment_submitted", "test_started": "test_completed"}


@dataclass(frozen=True, slots=True)
class PlannedRow:
    """A planned delivery with what rendering reads of its person and its anchor event."""

    id: int
    person_id: int
    campaign_id: str
    channel: str
    segment: str
    anchor_event_id: int | None
    step: int
    due_at: datetime
    display_name: str | None
    locale: str | None
    time_zone: str | None
    program: str | None
    anchor_type: str | None  # the anchor event's fields: all None without one
    anchor_at: datetime | None
    anchor_ref: str | None
    anchor_score: float | None
    anchor_payload: dict[str, Any] | None


def claim_planned(session: Session, limit: int) -> list[PlannedRow]:
    """Planned rows to render, joined with their person and anchor event in one query.

    The batch is chosen in a subquery, so the joins run for its rows only; on PostgreSQL
    parallel renderers lock and take disjoint batches.
    """
    d = Delivery.__table__.c  # type: ignore[attr-defined]
    # In the order of the (status, due_at) index: the batch is its first `limit` entries, with
    # no sort of every planned row (ties, all event nudges, come in id order).
    batch = select(d.id).where(d.status == "planned").order_by(d.due_at, d.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        batch = batch.with_for_update(skip_locked=True)
    return _with_person_and_anchor(session, d.id.in_(batch.scalar_subquery()))


def _with_person_and_anchor(session: Session, which: ColumnElement[bool]) -> list[PlannedRow]:
    d, p, e = _tables()
    query = (select(d.c.id, d.c.person_id, d.c.campaign_id, d.c.channel, d.c.segment,
                    d.c.anchor_event_id, d.c.step, _raw(d.c.due_at), p.c.display_name,
                    p.c.locale, p.c.time_zone, p.c.program, e.c.type, _raw(e.c.occurred_at),
                    e.c.ref, e.c.score, e.c.payload)
             .select_from(d.join(p, p.c.id == d.c.person_id)
                          .outerjoin(e, e.c.id == d.c.anchor_event_id))
             .where(which).order_by(d.c.due_at, d.c.id))
    # Core rows, not the ORM's loading machinery: a batch is thousands of rows.
    return [PlannedRow(*row[:7], read_instant(row[7]), *row[8:13], read_instant(row[13]),
                       *row[14:]) for row in session.connection().execute(query).all()]


def read_instant(value: str | datetime | None) -> datetime | None:
    """An aware UTC instant from a raw `UTCDateTime` value (SQLite text or a naive datetime).

    `fromisoformat` reads SQLite's "YYYY-MM-DD HH:MM:SS.ffffff" several times faster than
    the dialect's regular expression, and UTC is read along; rendering reads millions.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return datetime.fromisoformat(value + "+00:00")  # much cheaper than .replace(tzinfo=)
    return value.replace(tzinfo=UTC)


def _raw(column: ColumnElement[Any]) -> ColumnElement[Any]:
    return type_coerce(column, String)  # no result processing: read_instant parses it


def _tables() -> tuple[Table, Table, Table]:
    return Delivery.__table__, Person.__table__, LearningEvent.__table__  # type: ignore[return-value]


def activity_since(session: Session, person_ids: Iterable[int], since: datetime,
                   until: datetime) -> dict[int, list[datetime]]:
    """Activity times per person in (since, until], oldest first (active hours, streaks).

    One row per person (times aggregated in SQL): a batch has tens of thousands of times and
    per-row fetching cost more than the query itself.
    """
    e = LearningEvent.__table__.c
    sqlite = session.get_bind().dialect.name == "sqlite"
    times = func.group_concat(e.occurred_at) if sqlite else func.array_agg(e.occurred_at)
    query = (select(e.person_id, times)
             .where(e.person_id.in_(set(person_ids)), e.type.in_(sorted(ACTIVITY_EVENTS)),
                    e.occurred_at > since, e.occurred_at <= until)
             .group_by(e.person_id))
    found: dict[int, list[datetime]] = {}
    for person_id, joined in session.connection().execute(query).all():
        if isinstance(joined, str):  # SQLite's text instants sort as they compare
            found[person_id] = [read_instant(at) for at in sorted(joined.split(","))]
        else:  # PostgreSQL: aware datetimes already
            found[person_id] = sorted(joined)
    return found


def last_seen(session: Session, person_ids: Iterable[int],
              until: datetime) -> dict[int, datetime]:
    query = (select(LearningEvent.person_id, func.max(LearningEvent.occurred_at))
             .where(LearningEvent.person_id.in_(set(person_ids)),  # type: ignore[attr-defined]
                    LearningEvent.type.in_(sorted(ACTIVITY_EVENTS)),  # type: ignore[attr-defined]
                    LearningEvent.occurred_at <= until)
             .group_by(LearningEvent.person_id))
    return {pid: at for pid, at in session.connection().execute(query)}


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
    counts = {(r, t): n for r, t, n in session.connection().execute(query)}
    return {(r, t): (counts.get((r, PEER_DONE[t]), 0), counts.get((r, t), 0) - 1)
            for r, t in wanted}


class RenderedRow(NamedTuple):
    """What rendering decided for one planned delivery."""

    id: int
    status: str
    text: str
    due_at: datetime
    expires_at: datetime | None
    meta: dict[str, Any]
    error: str | None


def save_rendered(session: Session, rows: Sequence[RenderedRow], now: datetime) -> None:
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        # Straight to the driver: SQLAlchemy's per-row parameter processing cost more than
        # SQLite's update itself. Values are stored exactly as UTCDateTime and JSON store them.
        stamp = _sqlite_instant(now)
        connection.exec_driver_sql(_SQLITE_SAVE, [
            (r.status, r.text, _sqlite_instant(r.due_at), _sqlite_instant(r.expires_at),
             json.dumps(r.meta), r.error, stamp, r.id) for r in rows])
        return
    statement = (update(Delivery).where(Delivery.id == bindparam("b_id"))
                 .values(status=bindparam("b_status"), text=bindparam("b_text"),
                         due_at=bindparam("b_due"), expires_at=bindparam("b_expires"),
                         meta=bindparam("b_meta"), error=bindparam("b_error"),
                         updated_at=bindparam("b_now")))
    connection.execute(statement, [
        {"b_id": r.id, "b_status": r.status, "b_text": r.text, "b_due": r.due_at,
         "b_expires": r.expires_at, "b_meta": r.meta, "b_error": r.error, "b_now": now}
        for r in rows])


_SQLITE_SAVE = ("UPDATE delivery SET status = ?, text = ?, due_at = ?, expires_at = ?, meta = ?,"
                " error = ?, updated_at = ? WHERE id = ?")


def _sqlite_instant(moment: datetime | None) -> str | None:
    """The text UTCDateTime stores on SQLite: naive UTC, "YYYY-MM-DD HH:MM:SS.ffffff"."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(" ", "microseconds")[:-6]  # without "+00:00"
