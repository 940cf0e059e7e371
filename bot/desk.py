"""The escalation desk: raise, offer, take, relay both ways, release, resolve.

Runs inside the turn's transaction (mentor commands and student messages are turns) and appends
what it sends to other people (cards to mentors, relays, notices) to `ctx.extra`, so they go out
right after the commit like the turn's own replies. Timers (breaches, idle holds) are in
`bot/desk_timers.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import structlog
from babel.dates import format_datetime
from sqlmodel import Session

from bot.desk_cards import card, student_name
from bot.effects import EffectContext
from bot.i18n import Gettext, Translator
from bot.messages import Outbound, Reply
from handlers.escalation import escalated_text
from scheduler.mentor_routing import (
    NORMAL_TARGET,
    URGENT_TARGET,
    candidates,
    expected_reply,
    response_target,
)
from storage import escalations
from storage import mentors as mentor_store
from storage.outbox import add_replies
from storage.tables import Escalation, Person

log = structlog.get_logger("mentorbot.desk")
STAFF_KIND, RELAY_KIND = "staff", "relay"


@dataclass(frozen=True, slots=True)
class DeskConfig:
    admin_chats: tuple[int, ...] = ()  # MENTORBOT_ADMIN_TELEGRAM_IDS
    fallback_zone: str = "America/New_York"
    idle_after: timedelta = timedelta(hours=24)
    targets: tuple[timedelta, timedelta] = (URGENT_TARGET, NORMAL_TARGET)  # first response


class EscalationDesk:
    def __init__(self, translator: Translator, config: DeskConfig) -> None:
        self._translator = translator
        self.config = config

    def t_for(self, session: Session, person_id: int) -> Gettext:
        person = session.get(Person, person_id)
        return self._translator.for_locale(person.locale if person else None)

    # -- sending to someone other than the one who wrote ------------------------------------
    def send(self, session: Session, out: list[Outbound], person_id: int | None,
             where: tuple[str, str], reply: Reply, now: datetime, kind: str,
             **meta: object) -> None:  # fmt: skip
        out.extend(add_replies(session, person_id=person_id, channel=where[0], address=where[1],
                               replies=[reply], now=now, kind=kind, meta=dict(meta)))  # fmt: skip

    def send_card(self, session: Session, out: list[Outbound], row: Escalation, staff_id: int,
                  now: datetime) -> bool:  # fmt: skip
        where = mentor_store.staff_address(session, staff_id)
        if where is None:
            return False
        reply = card(session, self.t_for(session, staff_id), row, now)
        self.send(session, out, staff_id, where, reply, now, STAFF_KIND, escalation=row.id,
                  about=row.person_id)  # fmt: skip
        return True

    def alert_admins(self, session: Session, out: list[Outbound], row: Escalation,
                     now: datetime) -> int:  # fmt: skip
        sent = sum(self.send_card(session, out, row, a, now) for a in mentor_store.admins(session))
        if not self.config.admin_chats:
            return sent
        reply = card(session, self._translator.for_locale(None), row, now)
        for chat in self.config.admin_chats:
            self.send(session, out, None, ("telegram", str(chat)), reply, now, STAFF_KIND,
                      escalation=row.id, about=row.person_id)  # fmt: skip
        return sent + len(self.config.admin_chats)

    def offer(self, session: Session, out: list[Outbound], row: Escalation,
              mentor_ids: list[int], now: datetime) -> None:  # fmt: skip
        fresh = escalations.offer(session, row.id or 0, mentor_ids, now) or row
        for mentor_id in mentor_ids:
            self.send_card(session, out, fresh, mentor_id, now)

    # -- raising --------------------------------------------------------------------------
    def raise_for(self, ctx: EffectContext, reason: str, priority: str,
                  tags: tuple[str, ...], silent: bool) -> tuple[Reply, ...]:  # fmt: skip
        session, person, now = ctx.session, ctx.person, ctx.now
        raised = escalations.raise_escalation(
            session, person.id or 0, reason=reason, priority=priority, now=now,
            channel=ctx.inbound.channel, address=ctx.inbound.address, tags=tags,
        )  # fmt: skip
        log.info("escalation.raised", escalation=raised.id, person=person.id, reason=reason,
                 priority=raised.priority, joined=raised.joined)  # fmt: skip
        row = escalations.get(session, raised.id)
        assert row is not None
        # Joined: a mentor who holds it hears of a crisis; a waiting one is re-routed only when
        # it just became urgent (offered to everyone at once).
        if raised.joined and (row.status == "taken" or not raised.upgraded):
            self._tell_holder(ctx, row, reason)
            return () if silent else (Reply(escalated_text(ctx.t, row.id or 0, True)),)
        due = self._route(ctx, row, urgent=raised.priority == "urgent")
        if silent:
            return ()
        return (Reply(self._raised_text(ctx.t, row.id or 0, due, person.time_zone)),)

    def _route(self, ctx: EffectContext, row: Escalation, urgent: bool) -> datetime | None:
        """Offer to the right mentors; the admins when nobody can take it. The target time."""
        session, person, now = ctx.session, ctx.person, ctx.now
        everyone = mentor_store.mentors(session)
        order = candidates(everyone, escalations.open_load(session), locale=person.locale,
                           own_mentor=person.mentor_id, urgent=urgent)  # fmt: skip
        offered = order if urgent else order[:1]
        ready = [m for m in everyone if m.id in order]
        expected = expected_reply(ready, now, self.config.fallback_zone)
        due = response_target(urgent, expected, now, self.config.targets)
        escalations.set_target(session, row.id or 0, due)
        self.offer(session, ctx.extra, row, offered, now)
        if not offered:
            self.alert_admins(session, ctx.extra, row, now)
            return None
        return due

    def _tell_holder(self, ctx: EffectContext, row: Escalation, reason: str) -> None:
        """A crisis from a student a mentor already talks to: that mentor hears it at once."""
        if row.status != "taken" or row.mentor_id is None or reason != "crisis":
            return
        where = mentor_store.staff_address(ctx.session, row.mentor_id)
        if where is None:
            return
        t = self.t_for(ctx.session, row.mentor_id)
        text = t._("⚠️ {name} may be in crisis: they were sent crisis resources. Their message: "
                   "{text}", name=student_name(ctx.session, row.person_id), text=ctx.inbound.text)
        self.send(ctx.session, ctx.extra, row.mentor_id, where, Reply(text), ctx.now, STAFF_KIND,
                  about=row.person_id)  # fmt: skip

    def _raised_text(self, t: Gettext, number: int, due: datetime | None, zone: str | None
                     ) -> str:  # fmt: skip
        if due is None:
            return t._(
                "No mentor is available right now. Your request #{number} is saved and our "
                "team has been told; a mentor will write to you here.", number=number)
        local = due.astimezone(ZoneInfo(zone or self.config.fallback_zone))
        when = format_datetime(local, "EEE HH:mm", locale=t.locale)
        return escalated_text(t, number, False) + "\n" + t._(
            "A mentor will reply here by {when}.", when=when)

    def reoffer(self, session: Session, out: list[Outbound], number: int, now: datetime) -> None:
        """After a Pass: the next mentor in line; the admins when nobody is left."""
        row = escalations.get(session, number)
        person = session.get(Person, row.person_id) if row else None
        if row is None or person is None:
            return
        skip = frozenset(row.passed_by) | frozenset(row.offered_to)
        order = candidates(mentor_store.mentors(session), escalations.open_load(session),
                           locale=person.locale, own_mentor=person.mentor_id,
                           urgent=row.priority == "urgent", exclude=skip)  # fmt: skip
        if order:
            self.offer(session, out, row, order[:1], now)
        elif set(row.offered_to) <= set(row.passed_by):
            self.alert_admins(session, out, row, now)
