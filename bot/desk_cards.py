"""What mentors see: the context card of an escalation, and the queue. Read in one session.

The card gives a mentor what they need to decide in seconds: who, which program and language,
persona, consent state, recent learning events, the last messages, and their colleagues'
private notes. Student texts are shown as written; nothing here is sent to the student.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session

from bot.goal_cards import goal_lines
from bot.i18n import Gettext
from bot.messages import Choice, Reply
from scheduler.personas import Event, engagement_persona, performance_persona
from storage import consent as consent_store
from storage import mentors as mentor_store
from storage.tables import Escalation, Identity, LearningEvent, MessageLog, Person

_LAST_MESSAGES = 5
_RECENT_EVENTS = 5
_SNIPPET = 160


def student_name(session: Session, person_id: int) -> str:
    person = session.get(Person, person_id)
    return (person.display_name if person else None) or f"#{person_id}"


def first_name(name: str) -> str:
    return name.split(" ")[0] if name else name


def card(session: Session, t: Gettext, row: Escalation, now: datetime) -> Reply:
    person = session.get(Person, row.person_id)
    assert person is not None
    lines = [_headline(t, row), _who(session, person, now), _consent(t, session, person.id or 0)]
    lines += goal_lines(t, session, person, now)
    lines += _events(t, session, person.id or 0)
    lines += _messages(t, session, person)
    notes = mentor_store.notes(session, person.id or 0)
    if notes:
        lines.append(t._("Notes: {notes}", notes=" | ".join(notes)))
    choices = (Choice(f"take:{row.id}", t._("Take")), Choice(f"pass:{row.id}", t._("Pass")))
    return Reply("\n".join(lines), choices)


def student_card(session: Session, t: Gettext, person: Person, now: datetime) -> Reply:
    """An admin's /find (and a mentor's brief button): a request's context, without buttons."""
    pid = person.id or 0
    lines = [_who(session, person, now), _consent(t, session, pid)]
    lines.append(t._("LMS id: {lms}; track: {track}; time zone: {zone}; last active: {active}",
                     lms=person.lms_id or "—", track=person.track or "—",
                     zone=person.time_zone or "—",
                     active=f"{person.last_active_at:%Y-%m-%d}" if person.last_active_at
                     else "—"))  # fmt: skip
    channels = sorted({i.channel for i in session.execute(
        select(Identity).where(Identity.person_id == pid)).scalars()})  # fmt: skip
    lines.append(t._("Channels: {channels}", channels=", ".join(channels) or "—"))
    lines += goal_lines(t, session, person, now)
    lines += _events(t, session, pid) + _messages(t, session, person)
    notes = mentor_store.notes(session, pid)
    if notes:
        lines.append(t._("Notes: {notes}", notes=" | ".join(notes)))
    return Reply("\n".join(lines))


def _headline(t: Gettext, row: Escalation) -> str:
    priority = t._("URGENT") if row.priority == "urgent" else t._("normal")
    return t._(
        "Request #{number} ({priority}): {reasons}",
        number=row.id, priority=priority, reasons=", ".join([*row.reasons, *row.tags]),
    )  # fmt: skip


def _who(session: Session, person: Person, now: datetime) -> str:
    history = _history(session, person.id or 0)
    persona = f"{engagement_persona(history, now).value}/{performance_persona(history, now).value}"
    parts = [person.display_name or f"#{person.id}", person.program or "—",
             person.locale or "—", persona]  # fmt: skip
    return " · ".join(parts)


def _consent(t: Gettext, session: Session, person_id: int) -> str:
    consent = consent_store.current_consent(session, person_id)
    shown = ", ".join(f"{k}={v}" for k, v in sorted(consent.items())) or "—"
    return t._("Consent: {consent}", consent=shown)


def _history(session: Session, person_id: int) -> list[Event]:
    query = select(LearningEvent).where(LearningEvent.person_id == person_id)
    return [Event(e.type, e.occurred_at, e.score, e.ref)
            for e in session.execute(query.order_by(LearningEvent.occurred_at)).scalars()]


def _events(t: Gettext, session: Session, person_id: int) -> list[str]:
    query = (
        select(LearningEvent.type, LearningEvent.occurred_at, LearningEvent.ref)
        .where(LearningEvent.person_id == person_id)
        .order_by(LearningEvent.occurred_at.desc())
        .limit(_RECENT_EVENTS)
    )
    found = [f"{kind} {at:%Y-%m-%d}{' ' + ref if ref else ''}"
             for kind, at, ref in session.execute(query)]  # fmt: skip
    return [t._("Recent: {events}", events="; ".join(found))] if found else []


def _messages(t: Gettext, session: Session, person: Person) -> list[str]:
    query = (
        select(MessageLog.direction, MessageLog.text)
        .where(MessageLog.person_id == person.id, MessageLog.text.is_not(None))
        .order_by(MessageLog.id.desc())
        .limit(_LAST_MESSAGES)
    )
    rows = list(session.execute(query))[::-1]
    if not rows:
        return []
    who = first_name(person.display_name or "") or t._("Student")
    lines = [f"  {who if d == 'in' else 'bot'}: {(text or '')[:_SNIPPET]}" for d, text in rows]
    return [t._("Last messages:"), *lines]


def queue_text(t: Gettext, session: Session, rows: list[Escalation], now: datetime) -> str:
    if not rows:
        return t._("No requests are waiting.")
    lines = [t._("Waiting requests (take one with /take NUMBER):")]
    for row in rows:
        minutes = int((now - row.created_at).total_seconds() // 60)
        urgent = "‼️ " if row.priority == "urgent" else ""
        lines.append(f"#{row.id} {urgent}{student_name(session, row.person_id)} · "
                     f"{', '.join(row.reasons)} · {minutes} min")  # fmt: skip
    return "\n".join(lines)


def mine_text(t: Gettext, session: Session, rows: list[Escalation]) -> str:
    if not rows:
        return t._("You are not holding any conversation. /queue shows waiting requests.")
    lines = [t._("Your conversations (the first one gets what you write):")]
    lines += [f"#{r.id} {student_name(session, r.person_id)} ({r.channel})" for r in rows]
    return "\n".join(lines)
