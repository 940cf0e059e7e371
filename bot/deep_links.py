"""Links opened in a chat (`/start <token>`): students' deep links, and what they share with the
staff's invitations (`bot/invitations.py`): a guard against guessing, and moving the chat to the
person a link names.

A student's link is opened before the turn loads anyone, because the chat may become that
student for this very message; its answers are made once the turn knows the chat's language.
Anything that is not an invitation counts as a student's link, so a forged or outdated token
is refused like a used one. A chat that opens too many bad tokens is refused for a while
without its tokens being checked at all, in every process (the counter is in the database).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlmodel import Session

from bot.effects import EffectContext
from bot.i18n import Gettext
from bot.messages import Inbound, Outbound, Reply
from scheduler.policy import Verdict
from storage import people, rate_limits, student_links
from storage.mentors import INVITATION_PREFIX
from storage.outbox import add_replies
from storage.people import PersonRow
from storage.tables import MessageLog
from storage.tokens import token_hash

BAD_LINK_LIMIT = 5
BAD_LINK_WINDOW = timedelta(minutes=15)
MOVED_KIND = "system"  # not a reply and not proactive: it goes out at once, like a reply would

Refusal = Callable[[Gettext], Reply]


def invalid_link(t: Gettext) -> Reply:
    return Reply(
        t._(
            "This link is not valid: it was used already or it has expired. "
            "Please ask your school for a new one."
        )
    )


def too_many_links(t: Gettext) -> Reply:
    return Reply(t._("Too many invalid links were opened in this chat. Please try again later."))


def moved_away(t: Gettext) -> Reply:
    return Reply(
        t._(
            "Your account was just linked to another chat, so this chat is no longer "
            "connected to it. If this was not you, please contact your school."
        )
    )


@dataclass(frozen=True, slots=True)
class Opened:
    """What opening a student's link did."""

    student: PersonRow | None = None  # the chat now belongs to this student
    refusal: Refusal | None = None  # the answer when it was refused (and nothing changed)
    moved_from: tuple[str, ...] = ()  # the student's former chats on the channel, to be told


def open_student_link(session: Session, inbound: Inbound, now: datetime) -> Opened | None:
    """None when the message carries no student's link (or is a redelivery, already handled)."""
    token = inbound.link_token
    if not token or token.startswith(INVITATION_PREFIX) or _seen(session, inbound):
        return None
    if slowed(session, inbound, now):
        return Opened(refusal=too_many_links)
    student_id = student_links.redeem_link(session, token, now)
    if student_id is None:
        return _not_redeemed(session, inbound, token, now)
    student = people.person_by_id(session, student_id)
    moved = people.move_identity(session, inbound.channel, inbound.address, student_id, now)
    return Opened(student, moved_from=tuple(moved))


def answer_link(
    ctx: EffectContext, opened: Opened | None, judge: Callable[[EffectContext, str], Verdict]
) -> list[Outbound] | None:
    """Once the turn knows who the chat is: the student's former chat is told it was left, and
    a refused link (used, expired, forged, or one too many) is answered alone, before any flow
    or command sees it. None lets the turn go on."""
    if opened is None:
        return None
    tell_moved(ctx, ctx.person.id, opened.moved_from)
    if opened.refusal is None:
        return None
    return add_replies(
        ctx.session,
        person_id=ctx.person.id,
        channel=ctx.inbound.channel,
        address=ctx.inbound.address,
        replies=[opened.refusal(ctx.t)],
        now=ctx.now,
        meta={"locale": ctx.t.locale},
        verdict=judge(ctx, "reply"),
    )


def _not_redeemed(session: Session, inbound: Inbound, token: str, now: datetime) -> Opened:
    current = people.person_by_identity(session, inbound.channel, inbound.address)
    if current is not None and student_links.link_owner(session, token) == current.id:
        return Opened()  # the student tapped their own link again: nothing to do, no attack
    count_bad(session, inbound, now)
    return Opened(refusal=invalid_link)


def _seen(session: Session, inbound: Inbound) -> bool:
    """A redelivered update must not open a link or count as a bad one a second time."""
    query = select(MessageLog.id).where(
        MessageLog.channel == inbound.channel, MessageLog.external_id == inbound.external_id
    )
    return session.execute(query).first() is not None


def _guard_key(inbound: Inbound) -> str:
    # Hashed: the counter outlives an erasure, so it must not hold the chat's address itself.
    return f"bad_link:{inbound.channel}:{token_hash(inbound.address)[:32]}"


def slowed(session: Session, inbound: Inbound, now: datetime) -> bool:
    """Whether this chat opened too many bad tokens lately (students' links and invitations)."""
    key = _guard_key(inbound)
    return rate_limits.exceeded(session, key, now, BAD_LINK_WINDOW, BAD_LINK_LIMIT)


def count_bad(session: Session, inbound: Inbound, now: datetime) -> None:
    rate_limits.hit(session, _guard_key(inbound), now, BAD_LINK_WINDOW, BAD_LINK_LIMIT)


def tell_moved(ctx: EffectContext, person_id: int, addresses: Sequence[str]) -> None:
    """The person's former chats learn they are no longer linked: if someone else opened the
    link, the real student hears of it in the chat they still have."""
    for address in addresses:
        ctx.extra.extend(
            add_replies(
                ctx.session,
                person_id=person_id,
                channel=ctx.inbound.channel,
                address=address,
                replies=[moved_away(ctx.t)],
                now=ctx.now,
                kind=MOVED_KIND,
                meta={"locale": ctx.t.locale},
            )
        )
