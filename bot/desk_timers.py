"""The desk's timers, ticked by the scheduler: missed first-response targets and idle holds.

A waiting request past its target is offered to the whole pool of available mentors (first
breach), then shown to the admins (second). A held conversation without a message for
`idle_after` goes back to the bot; both sides are told. Requests nobody took within a week
expire. What this sends is recorded as pending deliveries; the dispatcher's drain sends them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from sqlmodel import Session

from bot.desk import RELAY_KIND, STAFF_KIND, EscalationDesk
from bot.desk_cards import student_name
from bot.messages import Outbound, Reply
from scheduler.mentor_routing import candidates, response_target
from storage import escalations
from storage import mentors as mentor_store
from storage.mentors import MentorFacts
from storage.tables import Escalation

log = structlog.get_logger("mentorbot.desk")
EXPIRE_AFTER = timedelta(days=7)


def tick(desk: EscalationDesk, session: Session, now: datetime) -> int:
    """One pass over the timers; returns how many requests changed."""
    out: list[Outbound] = []
    overdue = escalations.overdue(session, now)
    if overdue:  # read once for every breached request: offers do not change who is free
        everyone, load = mentor_store.mentors(session), escalations.open_load(session)
    for row in overdue:
        _breached(desk, session, out, row, now, everyone, load)
    idle = escalations.idle_holds(session, now - desk.config.idle_after)
    for row in idle:
        _idle(desk, session, out, row, now)
    expired = escalations.expire_waiting(session, now - EXPIRE_AFTER, now)
    return len(overdue) + len(idle) + expired


def _breached(desk: EscalationDesk, session: Session, out: list[Outbound], row: Escalation,
              now: datetime, everyone: list[MentorFacts],
              load: dict[int, int]) -> None:  # fmt: skip
    log.warning("escalation.breach", escalation=row.id, priority=row.priority,
                breaches=row.breaches + 1)  # fmt: skip
    if row.breaches == 0:
        # The whole pool, whatever the language (as for an urgent request).
        pool = candidates(everyone, load, locale=None, own_mentor=None, urgent=True,
                          exclude=frozenset(row.passed_by))  # fmt: skip
        urgent = row.priority == "urgent"
        target = response_target(urgent, now, now, desk.config.targets)
        escalations.record_breach(session, row.id or 0, target)
        desk.offer(session, out, row, pool, now)
        if pool:
            return
    else:
        escalations.record_breach(session, row.id or 0, None)
    desk.alert_admins(session, out, row, now)


def _idle(desk: EscalationDesk, session: Session, out: list[Outbound], row: Escalation,
          now: datetime) -> None:  # fmt: skip
    escalations.close(session, row.id or 0, "released", now, "idle")
    student_t = desk.t_for(session, row.person_id)
    if row.channel and row.address:
        text = student_t._("Your conversation with a mentor ended after a quiet while. I'm "
                           "back: ask me anything, or type /mentor to reach a mentor again.")
        desk.send(session, out, row.person_id, (row.channel, row.address), Reply(text), now,
                  RELAY_KIND)  # fmt: skip
    where = mentor_store.staff_address(session, row.mentor_id or 0)
    if where is not None:
        t = desk.t_for(session, row.mentor_id or 0)
        text = t._("Request #{number} ({name}) went back to the bot after a quiet while.",
                   number=row.id, name=student_name(session, row.person_id))
        desk.send(session, out, row.mentor_id, where, Reply(text), now, STAFF_KIND,
                  about=row.person_id)  # fmt: skip
