"""What the nudge machinery would do at a given moment, without sending or keeping anything.

Runs the real planner and renderer, then asks the real send policy about every due nudge, all
inside one transaction that is rolled back at the end.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlmodel import Session

from scheduler.planner import Planner
from scheduler.policy import Decision, SendPolicy
from storage import claims
from storage.database import Database
from storage.tables import Delivery, Person


@dataclass(frozen=True, slots=True)
class PreviewRow:
    decision: str  # send | hold | suppress | holdout | later
    reason: str
    campaign: str
    person: str
    channel: str
    template: str
    local_time: str
    until: str = ""


def preview(db: Database, planner: Planner, policy: SendPolicy, at: datetime) -> list[PreviewRow]:
    with Session(db.engine, expire_on_commit=False) as session:
        session.begin()
        try:
            planner.plan(session, at)
            while planner.render(session, at, limit=5_000):
                pass
            return _judge_all(session, policy, at, planner.config.fallback_zone)
        finally:
            session.rollback()


def _judge_all(session: Session, policy: SendPolicy, at: datetime,
               fallback_zone: str) -> list[PreviewRow]:
    rows = list(session.execute(
        select(Delivery).where(Delivery.kind == "nudge",
                               Delivery.status.in_(("pending", "held", "holdout")))  # type: ignore[attr-defined]
        .order_by(Delivery.due_at, Delivery.id)).scalars())
    people = {p.id: p for p in session.execute(select(Person).where(
        Person.id.in_({r.person_id for r in rows}))).scalars()}  # type: ignore[union-attr]
    due = [r for r in rows if r.status != "holdout" and r.due_at <= at]
    facts = claims.facts_for(session, due, at)
    found = [_row(r, people, "holdout", "control group", at, fallback_zone)
             for r in rows if r.status == "holdout" and r.created_at == at]
    found += [_row(r, people, "later", "due later", at, fallback_zone)
              for r in rows if r.status != "holdout" and r.due_at > at]
    sent_now: dict[int, int] = {}
    for row in sorted(due, key=_order):
        fact = replace(facts[row.id or 0], nudges_today=facts[row.id or 0].nudges_today
                       + sent_now.get(row.person_id or 0, 0))
        verdict = policy.verdict(fact, at)
        if verdict.decision is Decision.SEND and not fact.cap_exempt:
            sent_now[row.person_id or 0] = sent_now.get(row.person_id or 0, 0) + 1
        until = _local(verdict.until, people.get(row.person_id), fallback_zone)
        found.append(_row(row, people, verdict.decision.value, verdict.reason or "allowed", at,
                          fallback_zone, until))
    return found


def _order(row: Delivery) -> tuple[int, int]:
    return (-int(row.meta.get("priority", 0)), row.id or 0)


def _row(row: Delivery, people: dict[int | None, Person], decision: str, reason: str,
         at: datetime, fallback_zone: str, until: str = "") -> PreviewRow:
    person = people.get(row.person_id)
    name = f"{person.display_name or ''} #{row.person_id}".strip() if person else "?"
    when = _local(max(row.due_at, at), person, fallback_zone)
    return PreviewRow(decision, reason, row.campaign_id or "", name, row.channel,
                      str(row.meta.get("template", "")), when, until)


def _local(moment: datetime | None, person: Person | None, fallback_zone: str) -> str:
    if moment is None:
        return ""
    zone = (person.time_zone if person else None) or fallback_zone
    return f"{moment.astimezone(ZoneInfo(zone)):%a %Y-%m-%d %H:%M} {zone}"


def summary(rows: Sequence[PreviewRow]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.decision] = counts.get(row.decision, 0) + 1
    return counts
