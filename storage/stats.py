"""The figures behind /stats and GET /api/v1/stats, each from one or two aggregate queries.

Definitions (shown to admins as such):
- eligible: students (not erased, not under 13) the coaching rule allows today;
- offered: eligible students who have written to the bot (its first answer explains coaching);
- phone: eligible students with a phone number on file;
- consented: eligible students whose latest coaching decision is "granted".
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlmodel import Session

from storage.sql_params import sql

CONSENT_TARGET = 0.60  # the seed case study's target share of offered students


@dataclass(frozen=True, slots=True)
class Funnel:
    eligible: int = 0
    offered: int = 0
    phone: int = 0
    consented: int = 0

    @property
    def consent_rate(self) -> float | None:
        return self.consented / self.offered if self.offered else None


@dataclass(frozen=True, slots=True)
class Escalations:
    open: int = 0
    raised: int = 0
    answered: int = 0
    median_first_response_minutes: float | None = None
    breached: int = 0


@dataclass(frozen=True, slots=True)
class Answers:
    answered: int = 0
    not_sure: int = 0
    helpful: int = 0
    not_helpful: int = 0

    @property
    def helpful_rate(self) -> float | None:
        rated = self.helpful + self.not_helpful
        return self.helpful / rated if rated else None


@dataclass(frozen=True, slots=True)
class Daily:
    """Per day (UTC) for the charts: nudges sent, engaged, converted; escalations raised."""

    days: list[date] = field(default_factory=list)
    sent: list[int] = field(default_factory=list)
    engaged: list[int] = field(default_factory=list)
    converted: list[int] = field(default_factory=list)
    escalations: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class EligibilityParams:
    tracks: Collection[str]
    programs: Collection[str]
    active_within: timedelta


def people_by_role(session: Session) -> dict[str, int]:
    rows = session.execute(
        text("SELECT role, COUNT(*) FROM person WHERE erased_at IS NULL GROUP BY role")
    )
    return {role: int(n) for role, n in rows}


_LATEST_COACHING = """(SELECT cr.decision FROM consent_record cr WHERE cr.person_id = p.id
    AND cr.purpose = 'coaching' ORDER BY cr.id DESC LIMIT 1)"""
_FUNNEL = f"""SELECT COUNT(*),
        SUM(CASE WHEN EXISTS (SELECT 1 FROM message_log m WHERE m.person_id = p.id
                              AND m.direction = 'in') THEN 1 ELSE 0 END),
        SUM(CASE WHEN p.phone_e164 IS NOT NULL THEN 1 ELSE 0 END),
        SUM(CASE WHEN {_LATEST_COACHING} = 'granted' THEN 1 ELSE 0 END)
    FROM person p
    WHERE p.role = 'student' AND p.erased_at IS NULL AND p.under_13 = :no
      AND p.track IN :tracks AND p.program IN :programs AND p.last_active_at >= :active_since"""


def funnel(session: Session, rule: EligibilityParams, now: datetime) -> Funnel:
    if not rule.tracks or not rule.programs:
        return Funnel()
    row = session.execute(sql(_FUNNEL, {
        "no": False, "tracks": list(rule.tracks), "programs": list(rule.programs),
        "active_since": now - rule.active_within,
    })).one()  # fmt: skip
    return Funnel(*(int(v or 0) for v in row))


def opt_outs(session: Session, now: datetime) -> dict[str, int]:
    numbers = session.execute(sql(
        """SELECT SUM(CASE WHEN opted_out THEN 1 ELSE 0 END),
                  SUM(CASE WHEN NOT opted_out AND paused_until > :now THEN 1 ELSE 0 END)
           FROM opt_out""", {"now": now})).one()  # fmt: skip
    chats = session.execute(sql(
        """SELECT SUM(CASE WHEN opted_out THEN 1 ELSE 0 END),
                  SUM(CASE WHEN NOT opted_out AND paused_until > :now THEN 1 ELSE 0 END)
           FROM identity WHERE channel <> 'sms'""", {"now": now})).one()  # fmt: skip
    return {
        "numbers_opted_out": int(numbers[0] or 0),
        "numbers_paused": int(numbers[1] or 0),
        "chats_opted_out": int(chats[0] or 0),
        "chats_paused": int(chats[1] or 0),
    }


def answers(session: Session, since: datetime) -> Answers:
    row = session.execute(sql(
        """SELECT SUM(CASE WHEN entry_id IS NOT NULL THEN 1 ELSE 0 END),
                  SUM(CASE WHEN entry_id IS NULL THEN 1 ELSE 0 END),
                  SUM(CASE WHEN helpful = :yes THEN 1 ELSE 0 END),
                  SUM(CASE WHEN helpful = :no THEN 1 ELSE 0 END)
           FROM knowledge_answer WHERE created_at >= :since""",
        {"since": since, "yes": True, "no": False})).one()  # fmt: skip
    return Answers(*(int(v or 0) for v in row))


def escalations(session: Session, since: datetime) -> Escalations:
    opened = session.execute(
        text("SELECT COUNT(*) FROM escalation WHERE status IN ('open', 'offered', 'taken')")
    ).scalar()
    rows = session.execute(sql(
        """SELECT created_at, first_response_at, breaches FROM escalation
           WHERE created_at >= :since""", {"since": since})).all()  # fmt: skip
    waits = sorted((first - created).total_seconds() / 60
                   for created, first, _b in _as_times(rows) if first is not None)  # fmt: skip
    median = None
    if waits:
        middle = len(waits) // 2
        median = waits[middle] if len(waits) % 2 else (waits[middle - 1] + waits[middle]) / 2
    return Escalations(
        open=int(opened or 0), raised=len(rows), answered=len(waits),
        median_first_response_minutes=median, breached=sum(1 for r in rows if r[2]),
    )  # fmt: skip


def _as_times(rows: list[Any]) -> list[tuple[datetime, datetime | None, int]]:
    """Raw SQL returns text on SQLite: read the timestamps back as aware datetimes."""
    return [(_dt(a), _dt(b) if b is not None else None, c) for a, b, c in rows]


def _dt(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # stored as naive UTC


def daily(session: Session, now: datetime, days: int = 30) -> Daily:
    start = (now - timedelta(days=days - 1)).date()
    dates = [start + timedelta(days=i) for i in range(days)]
    index = {d: i for i, d in enumerate(dates)}
    sent, engaged, converted, raised = ([0] * days for _ in range(4))
    since = datetime.combine(start, datetime.min.time(), tzinfo=now.tzinfo)
    nudges = session.execute(sql(
        """SELECT sent_at, engaged_at, outcome FROM delivery
           WHERE kind = 'nudge' AND parent_id IS NULL AND sent_at >= :since""",
        {"since": since})).all()  # fmt: skip
    for sent_at, engaged_at, outcome in nudges:
        i = index.get(_dt(sent_at).date())
        if i is None:
            continue
        sent[i] += 1
        engaged[i] += engaged_at is not None
        converted[i] += outcome == "converted"
    for (created_at,) in session.execute(
        sql("SELECT created_at FROM escalation WHERE created_at >= :since", {"since": since})
    ):
        i = index.get(_dt(created_at).date())
        if i is not None:
            raised[i] += 1
    return Daily(dates, sent, engaged, converted, raised)
