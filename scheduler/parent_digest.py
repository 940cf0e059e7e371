"""Parent texts: a weekly digest per student on the parent's day, and a missed-classes alert.

Planned on the scheduler tick, idempotently (one `dedupe_key` per parent, student and week, or
per missed class), only when both consents hold: the parent's own "parent_sms" and the
student's "parent_updates". The send-time policy checks both again, and quiet hours.
Bodies carry counts and a score *band*, never a raw grade (lock screens, shared phones).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlmodel import Session

from core.i18n import Gettext, Translator
from scheduler.personas import Performance, score_band
from scheduler.policy import PARENT_SMS, STUDENT_PARENT_UPDATES
from storage.consent import current_consent
from storage.events import events_between
from storage.guardians import ParentOfStudent, all_links, sms_address_of
from storage.tables import Delivery, LearningEvent
from storage.upsert import insert_ignore

WEEK = timedelta(days=7)
SCORE_LOOKBACK = timedelta(days=60)
ALERT_LOOKBACK = timedelta(days=7)
CLASS_EVENTS = ("class_attended", "class_missed")


@dataclass(frozen=True, slots=True)
class WeekSummary:
    attended: int
    classes: int
    submitted: int
    due: int
    band: Performance | None


def summarize(events: Sequence[LearningEvent], now: datetime) -> WeekSummary:
    """The last seven days (scores: the latest within 60 days); `events` cover that span."""
    week = [e for e in events if e.occurred_at >= now - WEEK]
    attended = sum(1 for e in week if e.type == "class_attended")
    classes = sum(1 for e in week if e.type in CLASS_EVENTS)
    submitted = {e.ref for e in events if e.type == "assignment_submitted"}
    due = sum(
        1
        for e in events
        if e.type == "assignment_assigned" and e.ref not in submitted and _due_soon(e, now)
    )
    scores = [e for e in events if e.type == "test_completed" and e.score is not None]
    band = score_band(scores[-1].score or 0.0) if scores else None
    weekly_submitted = sum(1 for e in week if e.type == "assignment_submitted")
    return WeekSummary(attended, classes, weekly_submitted, due, band)


def _due_soon(event: LearningEvent, now: datetime) -> bool:
    raw = event.payload.get("due_at")
    try:
        due = datetime.fromisoformat(str(raw))
    except ValueError:
        return False
    due = due if due.tzinfo else due.replace(tzinfo=now.tzinfo)
    return now <= due < now + WEEK


def band_label(t: Gettext, band: Performance | None) -> str:
    if band is Performance.HIGH:
        return t._("strong")
    if band is Performance.MIDDLE:
        return t._("on track")
    if band is Performance.LOW:
        return t._("needs support")
    return t._("none yet")


def _with_link(t: Gettext, text: str, link: str | None) -> str:
    """The parents' page only when one is configured: never a link to a page that does not
    exist."""
    return f"{text} {t._('More: {link}', link=link)}" if link else text


def digest_text(t: Gettext, name: str, week: WeekSummary, link: str | None) -> str:
    text = t._(
        "{name} this week: classes {attended}/{classes}, assignments submitted {submitted}, "
        "due {due}. Latest test: {band}.",
        name=name,
        attended=week.attended,
        classes=week.classes,
        submitted=week.submitted,
        due=week.due,
        band=band_label(t, week.band),
    )
    return _with_link(t, text, link)


def alert_text(t: Gettext, name: str, link: str | None) -> str:
    text = t._(
        "{name} missed the last two classes. Reply MENTOR to reach their mentor.", name=name
    )
    return _with_link(t, text, link)


@dataclass(frozen=True, slots=True)
class DigestPlanner:
    translator: Translator
    link: str | None  # the school's parent page (MENTORBOT_TWILIO__PARENT_LINK), or no link
    default_zone: str

    def plan(self, session: Session, now: datetime) -> int:
        """Create the digests and alerts due now; returns how many new rows were written."""
        written = 0
        for item in all_links(session):
            address = sms_address_of(session, item.parent)
            if address is None or not _both_consent(session, item):
                continue
            written += self._digest(session, item, address, now)
            written += self._alert(session, item, address, now)
        return written

    def _digest(self, session: Session, item: ParentOfStudent, address: str, now: datetime) -> int:
        zone = ZoneInfo(item.parent.time_zone or self.default_zone)
        local = now.astimezone(zone)
        if local.weekday() != item.link.digest_weekday:
            return 0
        iso = local.isocalendar()
        key = f"digest:{item.parent.id}:{item.student.id}:{iso.year}-W{iso.week:02d}"
        if _exists(session, key):
            return 0
        events = events_between(session, item.student.id or 0, now - SCORE_LOOKBACK, now + WEEK)
        t = self.translator.for_locale(item.parent.locale)
        text = digest_text(t, _first_name(item), summarize(events, now), self.link)
        end_of_day = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), zone)
        return self._write(session, item, address, now, key, "digest", text, end_of_day)

    def _alert(self, session: Session, item: ParentOfStudent, address: str, now: datetime) -> int:
        recent = events_between(
            session, item.student.id or 0, now - ALERT_LOOKBACK, now, CLASS_EVENTS
        )
        if len(recent) < 2 or any(e.type != "class_missed" for e in recent[-2:]):
            return 0
        key = f"alert:{item.parent.id}:{item.student.id}:{recent[-1].event_id}"
        if _exists(session, key):
            return 0
        t = self.translator.for_locale(item.parent.locale)
        text = alert_text(t, _first_name(item), self.link)
        return self._write(session, item, address, now, key, "alert", text, now + 2 * timedelta(1))

    def _write(
        self,
        session: Session,
        item: ParentOfStudent,
        address: str,
        now: datetime,
        key: str,
        kind: str,
        text: str,
        expires: datetime,
    ) -> int:
        meta: dict[str, Any] = {
            "student_id": item.student.id,
            "locale": self.translator.resolve(item.parent.locale),
            "time_zone": item.parent.time_zone,
        }
        row = dict(
            person_id=item.parent.id, channel="sms", address=address, kind=kind,
            purpose=PARENT_SMS, text=text, choices=[], status="pending", due_at=now,
            expires_at=expires, dedupe_key=key, attempts=0, meta=meta, created_at=now,
            updated_at=now,
        )  # fmt: skip
        return insert_ignore(session, Delivery.__table__, row)


def _both_consent(session: Session, item: ParentOfStudent) -> bool:
    parent = current_consent(session, item.parent.id or 0)
    student = current_consent(session, item.student.id or 0)
    granted = parent.get(PARENT_SMS) == "granted"
    return granted and student.get(STUDENT_PARENT_UPDATES) == "granted"


def _exists(session: Session, key: str) -> bool:
    query = select(Delivery.id).where(Delivery.dedupe_key == key)
    return session.execute(query).first() is not None


def _first_name(item: ParentOfStudent) -> str:
    return (item.student.display_name or "").split(" ")[0] or "—"
