"""Admins looking after people: /find a student, /mentors (load, invite, remove), /admins.

Invitations are the mentors' issue's single-use, expiring links; from the chat an admin gets the
link (or the web chat's `/start <token>`) to pass on. Audit parameters hold ids, never names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rapidfuzz import fuzz, process
from sqlalchemy import select, update
from sqlmodel import Session

from bot.desk_cards import student_card
from bot.effects import EffectContext
from bot.messages import Choice, Reply
from handlers.admin import BUTTON_PREFIX
from storage import escalations
from storage import mentors as mentor_store
from storage.tables import Escalation, MentorProfile, Person

if TYPE_CHECKING:
    from bot.admin_desk import AdminDesk

FIND_LIMIT = 5
_MIN_SCORE = 70


def _students(session: Session) -> list[Person]:
    query = select(Person).where(Person.role == "student", Person.erased_at.is_(None))
    return list(session.execute(query).scalars())


def _matches(session: Session, query: str) -> list[Person]:
    people = _students(session)
    exact = [p for p in people if p.lms_id == query]
    if exact:
        return exact
    names = {p.id: p.display_name or "" for p in people}
    found = process.extract(query, names, scorer=fuzz.WRatio, limit=FIND_LIMIT,
                            score_cutoff=_MIN_SCORE)  # fmt: skip
    by_id = {p.id: p for p in people}
    return [by_id[key] for _name, _score, key in found]


def find(desk: AdminDesk, ctx: EffectContext, arg: str) -> tuple[Reply, ...]:
    t = ctx.t
    query = arg.strip()
    if not query:
        return (Reply(t._("Usage: {command}", command="/find NAME|LMS id")),)
    found = _matches(ctx.session, query)
    if not found:
        return (Reply(t._("No student matches “{query}”.", query=query)),)
    return tuple(student_card(ctx.session, t, p, ctx.now) for p in found)


def mentors(desk: AdminDesk, ctx: EffectContext, _arg: str) -> tuple[Reply, ...]:
    t = ctx.t
    load = escalations.open_load(ctx.session)
    lines, buttons = [t._("Mentors:")], [Choice(f"{BUTTON_PREFIX}invite:mentor",
                                                t._("Invite a mentor"))]  # fmt: skip
    for m in mentor_store.mentors(ctx.session):
        state = t._("available") if m.available else t._("away")
        lines.append(t._("#{id} {name}: {load} of {capacity} conversations, {state}, {languages}",
                         id=m.id, name=m.name, load=load.get(m.id, 0), capacity=m.capacity,
                         state=state, languages=", ".join(m.languages) or "—"))  # fmt: skip
        buttons.append(Choice(f"{BUTTON_PREFIX}remove:{m.id}",
                              t._("Remove {name}", name=m.name)))  # fmt: skip
    if len(lines) == 1:
        lines.append(t._("No mentors yet."))
    return (Reply("\n".join(lines), tuple(buttons)),)


def admins(desk: AdminDesk, ctx: EffectContext, _arg: str) -> tuple[Reply, ...]:
    t = ctx.t
    query = select(Person).where(Person.role == "admin", Person.erased_at.is_(None))
    people = list(ctx.session.execute(query).scalars())
    lines = [t._("Admins:")]
    lines += [f"#{p.id} {p.display_name or '—'}" for p in people]
    if desk.admin_chats:
        lines.append(t._("Telegram chats from the settings: {chats}",
                         chats=", ".join(sorted(desk.admin_chats))))  # fmt: skip
    invite = Choice(f"{BUTTON_PREFIX}invite:admin", t._("Invite an admin"))
    return (Reply("\n".join(lines), (invite,)),)


def invite(desk: AdminDesk, ctx: EffectContext, arg: str) -> tuple[Reply, ...]:
    t = ctx.t
    role = arg.strip()
    if role not in ("mentor", "admin"):
        return desk.help(ctx)
    # Nameless: whoever opens it keeps their own name.
    token = mentor_store.create_invitation(ctx.session, role, "", None, ctx.now,
                                           desk.invitation_ttl)  # fmt: skip
    desk.audit(ctx, f"{role}.invite")
    where = (f"https://t.me/{desk.bot_username}?start={token}" if desk.bot_username
             else f"/start {token}")  # fmt: skip
    days = desk.invitation_ttl.days
    return (Reply(t._("A single-use invitation, valid for {days} days. Send it to the new "
                      "{role} only: {link}", days=days, link=where,
                      role=t._("mentor") if role == "mentor" else t._("admin"))),)  # fmt: skip


def remove_mentor(desk: AdminDesk, ctx: EffectContext, arg: str) -> tuple[Reply, ...]:
    """The mentor becomes an ordinary member again; their conversations go back to the queue."""
    t = ctx.t
    person = ctx.session.get(Person, int(arg)) if arg.strip().isdigit() else None
    if person is None or person.role != "mentor":
        return (Reply(t._("There is no mentor #{id}.", id=arg.strip() or "—")),)
    ctx.session.execute(update(Person).where(Person.id == person.id).values(role="student"))
    ctx.session.execute(update(MentorProfile).where(MentorProfile.person_id == person.id)
                        .values(available=False, updated_at=ctx.now))  # fmt: skip
    returned = ctx.session.execute(
        update(Escalation)
        .where(Escalation.mentor_id == person.id, Escalation.status == "taken")
        .values(status="open", mentor_id=None, updated_at=ctx.now)
    ).rowcount  # type: ignore[attr-defined]
    desk.audit(ctx, "mentor.remove", mentor=person.id, returned=int(returned or 0))
    return (Reply(t._("{name} is no longer a mentor; {count} conversations went back to the "
                      "queue.", name=person.display_name or f"#{person.id}",
                      count=int(returned or 0))),)  # fmt: skip
