"""/review: deliveries held for a person to decide (an SMS whose answer was lost, a message
with no known time zone), with Resend or Drop for each. A resend goes back through the send
path, so the send-time policy (consent, opt-outs, quiet hours) is asked again."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select, update

from bot.effects import EffectContext
from bot.messages import Choice, Reply
from handlers.admin import BUTTON_PREFIX
from storage.tables import Delivery

if TYPE_CHECKING:
    from bot.admin_desk import AdminDesk

SHOWN = 10
_SNIPPET = 80


def review(desk: AdminDesk, ctx: EffectContext, _arg: str) -> tuple[Reply, ...]:
    t = ctx.t
    rows = list(ctx.session.execute(
        select(Delivery).where(Delivery.status == "review").order_by(Delivery.id).limit(SHOWN)
    ).scalars())  # fmt: skip
    if not rows:
        return (Reply(t._("Nothing is waiting for review.")),)
    replies = []
    for row in rows:
        text = t._("#{id} {channel} to person #{person}, {when}: {reason}\n“{text}”",
                   id=row.id, channel=row.channel, person=row.person_id or "—",
                   when=f"{row.created_at:%Y-%m-%d %H:%M} UTC", reason=row.error or "—",
                   text=row.text[:_SNIPPET])  # fmt: skip
        choices = (Choice(f"{BUTTON_PREFIX}resend:{row.id}", t._("Resend")),
                   Choice(f"{BUTTON_PREFIX}drop:{row.id}", t._("Drop")))  # fmt: skip
        replies.append(Reply(text, choices))
    return tuple(replies)


def _decide(desk: AdminDesk, ctx: EffectContext, arg: str, resend: bool) -> tuple[Reply, ...]:
    t = ctx.t
    number = int(arg) if arg.strip().isdigit() else 0
    values = (
        {"status": "pending", "due_at": ctx.now, "error": None}
        if resend
        else {"status": "suppressed", "error": "dropped by an admin"}
    )
    changed = ctx.session.execute(
        update(Delivery)
        .where(Delivery.id == number, Delivery.status == "review")  # a second press: no-op
        .values(updated_at=ctx.now, **values)
    ).rowcount  # type: ignore[attr-defined]
    if not changed:
        return (Reply(t._("Delivery #{id} is not waiting for review.", id=arg.strip() or "—")),)
    desk.audit(ctx, "delivery.resend" if resend else "delivery.drop", delivery=number)
    if resend:
        return (Reply(t._("Delivery #{id} goes out again (the sending rules are checked "
                          "again).", id=number)),)  # fmt: skip
    return (Reply(t._("Delivery #{id} was dropped.", id=number)),)


def resend(desk: AdminDesk, ctx: EffectContext, arg: str) -> tuple[Reply, ...]:
    return _decide(desk, ctx, arg, True)


def drop(desk: AdminDesk, ctx: EffectContext, arg: str) -> tuple[Reply, ...]:
    return _decide(desk, ctx, arg, False)
