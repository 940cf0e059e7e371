"""/broadcast: template → segment kind → value → preview (audience, text per language) → send.

Each step is a button; the draft lives in the `broadcast` table, so the steps survive restarts
and a second press of Send sends nothing. Buttons carry the draft's id and are checked again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.effects import EffectContext
from bot.messages import Choice, Reply
from handlers.admin import BUTTON_PREFIX
from handlers.broadcasts import LABELS, SEGMENT_LABELS, TEMPLATES, render
from storage import broadcasts as store
from storage.tables import Broadcast

if TYPE_CHECKING:
    from bot.admin_desk import AdminDesk

MAX_BUTTON_VALUE = 30  # callback data is 64 bytes at most on Telegram


def _button(action: str, *parts: object) -> str:
    return BUTTON_PREFIX + ":".join((action, *(str(p) for p in parts)))


def start(desk: AdminDesk, ctx: EffectContext, _arg: str) -> tuple[Reply, ...]:
    t = ctx.t
    choices = tuple(Choice(_button("bct", key), t._(LABELS[key])) for key in TEMPLATES)
    return (Reply(t._("Broadcast: which message? (approved texts, sent in each student's "
                      "language)"), choices),)  # fmt: skip


def _draft(ctx: EffectContext, arg: str) -> tuple[Broadcast | None, list[str]]:
    head, *rest = arg.split(":")
    row = ctx.session.get(Broadcast, int(head)) if head.isdigit() else None
    if row is None or row.status != "draft":
        return None, rest
    return row, rest


def _gone(ctx: EffectContext) -> tuple[Reply, ...]:
    return (Reply(ctx.t._("This broadcast was sent or cancelled already. /broadcast starts a "
                          "new one.")),)  # fmt: skip


def template(desk: AdminDesk, ctx: EffectContext, arg: str) -> tuple[Reply, ...]:
    t = ctx.t
    if arg not in TEMPLATES:
        return start(desk, ctx, "")
    row = store.create_draft(ctx.session, arg, ctx.person.id, ctx.now)
    choices = tuple(Choice(_button("bck", row.id, kind), t._(label))
                    for kind, label in SEGMENT_LABELS.items())  # fmt: skip
    return (Reply(t._("Who should get it? Choose the kind of group."), choices),)


def kind(desk: AdminDesk, ctx: EffectContext, arg: str) -> tuple[Reply, ...]:
    t = ctx.t
    row, rest = _draft(ctx, arg)
    if row is None:
        return _gone(ctx)
    chosen = rest[0] if rest else ""
    if chosen not in SEGMENT_LABELS:
        return template(desk, ctx, row.template)
    values = [v for v in store.segment_values(ctx.session, chosen, ctx.now)
              if len(v.encode()) <= MAX_BUTTON_VALUE and ":" not in v]  # fmt: skip
    if not values:
        return (Reply(t._("No student has a value for this yet. Choose another kind of group.")),)
    row.segment_kind = chosen
    ctx.session.add(row)
    choices = tuple(Choice(_button("bcv", row.id, value), value) for value in values)
    return (Reply(t._("Which one?"), choices),)


def value(desk: AdminDesk, ctx: EffectContext, arg: str) -> tuple[Reply, ...]:
    t = ctx.t
    row, rest = _draft(ctx, arg)
    if row is None:
        return _gone(ctx)
    if row.segment_kind is None or not rest:
        return template(desk, ctx, row.template)
    row.segment_value = rest[0]
    ctx.session.add(row)
    total, found = store.recipients(ctx.session, row.segment_kind, row.segment_value, ctx.now)
    lines = [t._("Broadcast #{number} to {kind} = {value}: {total} students in the group, "
                 "{count} with consent for reminders will get it. Opt-outs, quiet hours and "
                 "the daily cap are checked again when each one is sent.",
                 number=row.id, kind=t._(SEGMENT_LABELS[row.segment_kind]),
                 value=row.segment_value, total=total, count=len(found))]  # fmt: skip
    for locale in desk.translator.supported:
        sample = next((r.name for r in found if (r.locale or "en") == locale), None)
        text = render(desk.translator.for_locale(locale), row.template, sample or "Ana")
        lines.append(f"[{locale}] {text}")
    choices = (Choice(_button("bcgo", row.id), t._("Send to {count}", count=len(found))),
               Choice(_button("bcno", row.id), t._("Cancel broadcast")))  # fmt: skip
    return (Reply("\n".join(lines), choices),)


def send(desk: AdminDesk, ctx: EffectContext, arg: str) -> tuple[Reply, ...]:
    t = ctx.t
    row, _rest = _draft(ctx, arg)
    if row is None:
        return _gone(ctx)
    if row.segment_kind is None or row.segment_value is None:
        return template(desk, ctx, row.template)
    _total, found = store.recipients(ctx.session, row.segment_kind, row.segment_value, ctx.now)
    messages = [(r, render(desk.translator.for_locale(r.locale), row.template, r.name))
                for r in found]  # fmt: skip
    count = store.queue(ctx.session, row, messages, ctx.now)
    desk.audit(ctx, "broadcast.send", broadcast=row.id, template=row.template,
               segment=f"{row.segment_kind}={row.segment_value}", count=count)  # fmt: skip
    text = t._("Broadcast #{number} is on its way to {count} students. Its results are in "
               "/stats as broadcast-{number}.", number=row.id, count=count)  # fmt: skip
    return (Reply(text),)


def cancel(desk: AdminDesk, ctx: EffectContext, arg: str) -> tuple[Reply, ...]:
    row, _rest = _draft(ctx, arg)
    if row is None:
        return _gone(ctx)
    row.status = "cancelled"
    ctx.session.add(row)
    return (Reply(ctx.t._("Broadcast #{number} was cancelled; nothing was sent.",
                          number=row.id)),)  # fmt: skip
