"""What mentors do at the desk (take, pass, relay, release, resolve, notes), and the student's
side of a held conversation. Each function is an effect handler: (desk, ctx, effect) → replies
to the mentor; messages to the student go through `ctx.extra`."""

from __future__ import annotations

from collections.abc import Callable

from bot.desk import RELAY_KIND, STAFF_KIND, EscalationDesk
from bot.desk_cards import first_name, mine_text, queue_text, student_card, student_name
from bot.effects import EffectContext
from bot.messages import Reply
from handlers.flow import Effect
from handlers.mentor import mentor_help
from storage import at_risk, escalations
from storage import mentors as mentor_store
from storage.tables import Escalation, Person

Action = Callable[[EscalationDesk, EffectContext, Effect], tuple[Reply, ...]]


def _say(text: str) -> tuple[Reply, ...]:
    return (Reply(text),)


def _mentor_name(ctx: EffectContext) -> str:
    return first_name(ctx.person.display_name or "") or ctx.t._("Your mentor")


def _to_student(desk: EscalationDesk, ctx: EffectContext, row: Escalation, text: str,
                kind: str = RELAY_KIND) -> None:  # fmt: skip
    if row.channel and row.address:
        desk.send(ctx.session, ctx.extra, row.person_id, (row.channel, row.address), Reply(text),
                  ctx.now, kind, escalation=row.id)  # fmt: skip


def take(desk: EscalationDesk, ctx: EffectContext, effect: Effect) -> tuple[Reply, ...]:
    number = int(effect.args["id"])
    row = escalations.get(ctx.session, number)
    t = ctx.t
    if row is None:
        return _say(t._("There is no request #{number}.", number=number))
    if not escalations.take(ctx.session, number, ctx.person.id or 0, ctx.now):
        if row.status == "taken" and row.mentor_id is not None:
            holder = student_name(ctx.session, row.mentor_id)
            return _say(t._("Request #{number} was already taken by {name}.", number=number,
                            name=holder))  # fmt: skip
        return _say(t._("Request #{number} is no longer open.", number=number))
    student_t = desk.t_for(ctx.session, row.person_id)
    _to_student(desk, ctx, row, student_t._(
        "{name} (mentor) has joined the conversation. What you write now goes to them.",
        name=_mentor_name(ctx)))  # fmt: skip
    name = student_name(ctx.session, row.person_id)
    return _say(t._(
        "You have taken request #{number} ({name}). What you write here goes to them. "
        "/release hands them back to the bot, /resolve TAG closes the request.",
        number=number, name=name))  # fmt: skip


def pass_offer(desk: EscalationDesk, ctx: EffectContext, effect: Effect) -> tuple[Reply, ...]:
    number = int(effect.args["id"])
    row = escalations.get(ctx.session, number)
    if row is None or row.status not in escalations.WAITING_STATUSES:
        return _say(ctx.t._("Request #{number} is no longer open.", number=number))
    escalations.pass_offer(ctx.session, number, ctx.person.id or 0, ctx.now)
    desk.reoffer(ctx.session, ctx.extra, number, ctx.now)
    return _say(ctx.t._("Passed: request #{number} goes to someone else.", number=number))


def _current(ctx: EffectContext) -> Escalation | None:
    held = escalations.held_by(ctx.session, ctx.person.id or 0)
    return held[0] if held else None


def relay(desk: EscalationDesk, ctx: EffectContext, effect: Effect) -> tuple[Reply, ...]:
    row = _current(ctx)
    if row is None:
        text = ctx.t._("You are not holding any conversation. /queue shows waiting requests.")
        return _say(text)
    escalations.mark_activity(ctx.session, row.id or 0, ctx.now, mentor=True)
    signed = ctx.t._("{name} (mentor): {text}", name=_mentor_name(ctx), text=effect.args["text"])
    _to_student(desk, ctx, row, signed)
    return ()


def close(status: str) -> Action:
    def action(desk: EscalationDesk, ctx: EffectContext, effect: Effect) -> tuple[Reply, ...]:
        row = _current(ctx)
        if row is None:
            return _say(ctx.t._("You are not holding any conversation."))
        tag = effect.args.get("tag")
        escalations.close(ctx.session, row.id or 0, status, ctx.now, tag)
        student_t = desk.t_for(ctx.session, row.person_id)
        _to_student(desk, ctx, row, student_t._(
            "{name} has handed the conversation back to me. Ask me anything, or type /mentor "
            "to reach a mentor again.", name=_mentor_name(ctx)))  # fmt: skip
        return _say(ctx.t._("Request #{number} is closed ({status}); the student is back with "
                            "the bot.", number=row.id, status=tag or status))  # fmt: skip

    return action


def note(desk: EscalationDesk, ctx: EffectContext, effect: Effect) -> tuple[Reply, ...]:
    row = _current(ctx)
    if row is None:
        return _say(ctx.t._("You are not holding any conversation."))
    mentor_store.add_note(ctx.session, row.person_id, ctx.person.id or 0,
                          str(effect.args["text"])[:1000], ctx.now)  # fmt: skip
    return _say(ctx.t._("Note saved; it will show on this student's next card."))


def available(desk: EscalationDesk, ctx: EffectContext, effect: Effect) -> tuple[Reply, ...]:
    on = bool(effect.args["on"])
    mentor_store.set_available(ctx.session, ctx.person.id or 0, on, ctx.now)
    if on:
        return _say(ctx.t._("You are available: new requests will be offered to you."))
    return _say(ctx.t._("You are away: no new requests will be offered to you."))


def queue(desk: EscalationDesk, ctx: EffectContext, effect: Effect) -> tuple[Reply, ...]:
    return _say(queue_text(ctx.t, ctx.session, escalations.waiting(ctx.session), ctx.now))


def mine(desk: EscalationDesk, ctx: EffectContext, effect: Effect) -> tuple[Reply, ...]:
    held = escalations.held_by(ctx.session, ctx.person.id or 0)
    return _say(mine_text(ctx.t, ctx.session, held))


def open_card(desk: EscalationDesk, ctx: EffectContext, effect: Effect) -> tuple[Reply, ...]:
    """A student's card from the daily brief: only for their mentor (or whoever held one of
    their requests) and admins; anyone else learns nothing, not even that the student exists."""
    student = ctx.session.get(Person, int(effect.args["student"]))
    mentor_id = ctx.person.id or 0
    admin_chat = ctx.inbound.channel == "telegram" and ctx.inbound.address in {
        str(chat) for chat in desk.config.admin_chats}  # fmt: skip
    allowed = student is not None and student.erased_at is None and (
        ctx.person.role == "admin" or admin_chat or student.mentor_id == mentor_id
        or at_risk.ever_held(ctx.session, student.id or 0, mentor_id))  # fmt: skip
    if not allowed or student is None:
        return _say(ctx.t._("You can open the cards of your own students only."))
    return (student_card(ctx.session, ctx.t, student, ctx.now),)


def usage(desk: EscalationDesk, ctx: EffectContext, effect: Effect) -> tuple[Reply, ...]:
    return _say(ctx.t._("Usage: {command}", command=effect.args["command"]))


def help_(desk: EscalationDesk, ctx: EffectContext, effect: Effect) -> tuple[Reply, ...]:
    return (mentor_help(ctx.t),)


def from_student(desk: EscalationDesk, ctx: EffectContext, row: Escalation) -> None:
    """A student in a held conversation wrote: it goes to the mentor; the bot stays silent."""
    escalations.follow_student(ctx.session, row.id or 0, ctx.inbound.channel,
                               ctx.inbound.address, ctx.now)  # fmt: skip
    where = mentor_store.staff_address(ctx.session, row.mentor_id or 0)
    if where is None:
        return
    name = first_name(ctx.person.display_name or "") or f"#{ctx.person.id}"
    desk.send(ctx.session, ctx.extra, row.mentor_id, where,
              Reply(f"{name} (#{row.id}): {ctx.inbound.text}"), ctx.now, STAFF_KIND,
              about=row.person_id)  # fmt: skip


ACTIONS: dict[str, Action] = {
    "desk_take": take,
    "desk_pass": pass_offer,
    "desk_relay": relay,
    "desk_release": close("released"),
    "desk_resolve": close("resolved"),
    "desk_note": note,
    "desk_available": available,
    "desk_queue": queue,
    "desk_mine": mine,
    "desk_usage": usage,
    "desk_card": open_card,
    "desk_help": help_,
}


class DeskEffects:
    """The effects the engine hands to the desk: raising an escalation and mentor commands."""

    def __init__(self, desk: EscalationDesk) -> None:
        self.desk = desk

    def apply(self, ctx: EffectContext, effect: Effect) -> tuple[Reply, ...]:
        if effect.kind == "raise_escalation":
            args = effect.args
            return self.desk.raise_for(ctx, args["reason"], args["priority"],
                                       tuple(args.get("tags", ())), bool(args.get("silent")))
        return ACTIONS[effect.kind](self.desk, ctx, effect)

    def from_student(self, ctx: EffectContext) -> bool:
        """Relay a held student's message to their mentor; False when no mentor holds them."""
        row = escalations.open_escalation(ctx.session, ctx.person.id or 0)
        if row is None or row.status != "taken":
            return False
        from_student(self.desk, ctx, row)
        return True
