"""Broadcasts: drafts, the segment's values and audience, and queuing the nudges.

The audience is students in the segment with a consent decision that covers study reminders
(the planner's rule: the latest `nudges` decision, else coaching). The nudges are queued as
pending deliveries of kind "nudge", so the send-time policy checks consent, opt-outs, quiet
hours and the daily cap again for each one, exactly as for a campaign.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlmodel import Session

from storage.persona_sql import persona_select
from storage.plan_sql import consent_clause
from storage.sql_params import sql
from storage.tables import Broadcast, Delivery, Identity

SEGMENT_COLUMNS = {
    "program": "p.program",
    "cohort": "p.cohort",
    "grade": "p.grade",
    "language": "p.locale",
    "persona": "pp.engagement",
}
MAX_VALUES = 12  # buttons to offer per segment kind
# Where a broadcast goes: the first reachable identity in this order.
CHANNEL_ORDER = ("telegram", "webchat", "sms")


@dataclass(frozen=True, slots=True)
class Recipient:
    person_id: int
    name: str | None
    locale: str | None
    channel: str
    address: str


def create_draft(session: Session, template: str, by: int | None, now: datetime) -> Broadcast:
    row = Broadcast(template=template, created_by=by, created_at=now)
    session.add(row)
    session.flush()
    return row


def _students(kind: str | None, params: dict[str, Any], now: datetime) -> str:
    joined = ""
    if kind == "persona":
        joined = f"JOIN ({persona_select(now, params)}) pp ON pp.person_id = p.id"
    return f"FROM person p {joined} WHERE p.role = 'student' AND p.erased_at IS NULL"


def segment_values(session: Session, kind: str, now: datetime) -> list[str]:
    """The values present among students, most common first."""
    column = SEGMENT_COLUMNS[kind]
    params: dict[str, Any] = {}
    statement = f"""SELECT {column}, COUNT(*) AS n {_students(kind, params, now)}
        AND {column} IS NOT NULL GROUP BY {column} ORDER BY n DESC, {column} LIMIT {MAX_VALUES}"""
    return [str(v) for v, _n in session.execute(sql(statement, params))]


def recipients(session: Session, kind: str, value: str, now: datetime
               ) -> tuple[int, list[Recipient]]:  # fmt: skip
    """(students in the segment, those with consent and a reachable identity)."""
    params: dict[str, Any] = {"value": value, "purpose": "nudges", "implied": "coaching"}
    base = f"{_students(kind, params, now)} AND {SEGMENT_COLUMNS[kind]} = :value"
    total = session.execute(sql(f"SELECT COUNT(*) {base}", params)).scalar() or 0
    people = session.execute(
        sql(f"SELECT p.id, p.display_name, p.locale {base} AND {consent_clause()}", params)
    ).all()
    where = _best_identities(session, [int(r[0]) for r in people])
    found = [Recipient(int(pid), name, locale, *where[int(pid)])
             for pid, name, locale in people if int(pid) in where]  # fmt: skip
    return int(total), found


def _best_identities(session: Session, ids: list[int]) -> dict[int, tuple[str, str]]:
    best: dict[int, tuple[str, str]] = {}
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        rows = session.execute(
            select(Identity.person_id, Identity.channel, Identity.address).where(
                Identity.person_id.in_(chunk),
                Identity.reachable.is_(True),  # type: ignore[attr-defined]
                Identity.opted_out.is_(False),  # type: ignore[attr-defined]
                Identity.channel.in_(CHANNEL_ORDER),
            )
        )  # type: ignore[attr-defined]
        for pid, channel, address in rows:
            current = best.get(pid)
            if current is None or CHANNEL_ORDER.index(channel) < CHANNEL_ORDER.index(current[0]):
                best[pid] = (channel, address)
    return best


def queue(session: Session, broadcast: Broadcast, messages: list[tuple[Recipient, str]],
          now: datetime) -> int:  # fmt: skip
    """Queue one nudge per recipient (once: the dedupe key is per broadcast and person)."""
    campaign = f"broadcast-{broadcast.id}"
    rows = [dict(
        person_id=r.person_id, channel=r.channel, address=r.address, kind="nudge",
        purpose="nudges", text=body, choices=[], status="pending", due_at=now, attempts=0,
        dedupe_key=f"{campaign}:{r.person_id}", campaign_id=campaign,
        meta={"locale": r.locale, "broadcast": broadcast.id}, created_at=now, updated_at=now,
    ) for r, body in messages]  # fmt: skip
    if rows:
        session.execute(insert(Delivery), rows)
    broadcast.status, broadcast.sent_at, broadcast.audience = "sent", now, len(rows)
    session.add(broadcast)
    return len(rows)
