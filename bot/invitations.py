"""Joining as a mentor or an admin: a single-use, expiring invitation opened in the chat.

`mentorbot invite mentor --name NAME` makes the token; opening `t.me/<bot>?start=<token>` (or
typing `/start <token>` in the web chat) redeems it. With an LMS id, the chat joins the person
imported with that id; otherwise the person writing becomes the mentor. A used, expired or
unknown token changes nothing and says so.
"""

from __future__ import annotations

from datetime import timedelta

import structlog
from sqlalchemy import update

from bot.effects import EffectContext
from bot.messages import Reply
from handlers.mentor import mentor_help
from storage import mentors as mentor_store
from storage.people import move_identity, person_by_lms_id
from storage.tables import Person

log = structlog.get_logger("mentorbot.invitations")
DEFAULT_TTL = timedelta(days=7)


def is_invitation(token: str) -> bool:
    return token.startswith(mentor_store.INVITATION_PREFIX)


def redeem(ctx: EffectContext, token: str) -> tuple[Reply, ...]:
    session, person, now, t = ctx.session, ctx.person, ctx.now, ctx.t
    invitation = mentor_store.redeem_invitation(session, token, person.id or 0, now)
    if invitation is None:
        log.warning("invitation.refused", person=person.id)
        return (Reply(t._("This invitation link is not valid: it was used already or it has "
                          "expired. Please ask for a new one.")),)  # fmt: skip
    target = person_by_lms_id(session, invitation.lms_id) if invitation.lms_id else None
    person_id = person.id or 0
    if target is not None and target.id != person.id:
        move_identity(session, ctx.inbound.channel, ctx.inbound.address, target.id or 0, now)
        person_id = target.id or 0
    values = {"role": invitation.role, "display_name": invitation.name}
    if invitation.lms_id and target is None:
        values["lms_id"] = invitation.lms_id
    session.execute(update(Person).where(Person.id == person_id).values(**values))
    if invitation.role == "mentor":
        mentor_store.ensure_profile(session, person_id, now)
    log.info("invitation.redeemed", person=person_id, role=invitation.role)
    if invitation.role == "mentor":
        welcome = t._("Welcome, {name}! You are now a mentor on mentorbot.", name=invitation.name)
    else:
        welcome = t._("Welcome, {name}! You are now an admin on mentorbot.", name=invitation.name)
    return (Reply(welcome), mentor_help(t))
