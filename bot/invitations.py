"""Joining as a mentor or an admin: a single-use, expiring invitation opened in the chat.

`mentorbot invite mentor --name NAME` makes the token; opening `t.me/<bot>?start=<token>` in
Telegram redeems it. With an LMS id, the chat joins the person imported with that id (as their
one chat on the channel; a former one is told); otherwise the person writing becomes the
mentor. A used, expired or unknown token changes nothing and says so, and counts toward the
same guard against guessing as students' links (`bot/deep_links.py`).
"""

from __future__ import annotations

import structlog
from sqlalchemy import update

from bot.deep_links import count_bad, slowed, tell_moved, too_many_links
from bot.effects import EffectContext
from bot.messages import Reply
from handlers.mentor import mentor_help
from storage import mentors as mentor_store
from storage.people import move_identity, person_by_lms_id
from storage.tables import Invitation, Person

log = structlog.get_logger("mentorbot.invitations")


def is_invitation(token: str) -> bool:
    return token.startswith(mentor_store.INVITATION_PREFIX)


def redeem(ctx: EffectContext, token: str) -> tuple[Reply, ...]:
    session, person, now, t = ctx.session, ctx.person, ctx.now, ctx.t
    if slowed(session, ctx.inbound, now):  # refused unchecked: guessing gets nowhere
        log.warning("invitation.slowed", person=person.id)
        return (too_many_links(t),)
    invitation = mentor_store.redeem_invitation(session, token, person.id or 0, now)
    if invitation is None:
        count_bad(session, ctx.inbound, now)
        log.warning("invitation.refused", person=person.id)
        return (Reply(t._("This invitation link is not valid: it was used already or it has "
                          "expired. Please ask for a new one.")),)  # fmt: skip
    person_id = _join(ctx, invitation)
    log.info("invitation.redeemed", person=person_id, role=invitation.role)
    name = invitation.name or (person.display_name or "").split(" ")[0] or "👋"
    if invitation.role == "mentor":
        welcome = t._("Welcome, {name}! You are now a mentor on mentorbot.", name=name)
    else:
        welcome = t._("Welcome, {name}! You are now an admin on mentorbot.", name=name)
    return (Reply(welcome), mentor_help(t))


def _join(ctx: EffectContext, invitation: Invitation) -> int:
    """Give the role to the person imported with the invitation's LMS id (this chat becomes
    theirs) or else to the person writing; returns who got it."""
    session, now = ctx.session, ctx.now
    target = person_by_lms_id(session, invitation.lms_id) if invitation.lms_id else None
    person_id = ctx.person.id or 0
    if target is not None and target.id != person_id:
        person_id = target.id or 0
        moved = move_identity(session, ctx.inbound.channel, ctx.inbound.address, person_id, now)
        tell_moved(ctx, person_id, moved)
    values = {"role": invitation.role}
    if invitation.name:  # an admin's invitation from the chat names nobody: keep the name
        values["display_name"] = invitation.name
    if invitation.lms_id and target is None:
        values["lms_id"] = invitation.lms_id
    session.execute(update(Person).where(Person.id == person_id).values(**values))
    if invitation.role == "mentor":
        mentor_store.ensure_profile(session, person_id, now)
    return person_id
