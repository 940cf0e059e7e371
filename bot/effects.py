"""Applies the effects a flow step asked for, inside the turn's transaction."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from sqlmodel import Session

from bot.i18n import Gettext
from bot.messages import Attachment, Channel, Inbound, Outbound, Reply
from handlers.flow import Effect
from handlers.main import help_reply
from handlers.privacy import describe_stored_data
from storage import chat_opt_outs, guardians, knowledge_answers, people
from storage import consent as consent_store
from storage import sms as sms_store
from storage.erasure import erase_person
from storage.export import export_person
from storage.people import PersonRow

log = structlog.get_logger("mentorbot.effects")


@dataclass(slots=True)
class EffectContext:
    session: Session
    person: PersonRow
    consent: dict[str, str]
    inbound: Inbound
    now: datetime
    t: Gettext
    consent_text_version: str
    erased: bool = False
    desk: Any = None  # bot.desk_actions.DeskEffects: escalations and mentor commands
    extra: list[Outbound] = field(default_factory=list)  # sent to others after the commit
    # Effects of features the composition root builds with their own settings (goals, plans).
    features: Mapping[str, Any] = field(default_factory=dict)


def apply_effect(ctx: EffectContext, effect: Effect) -> tuple[Reply, ...]:
    if effect.kind == "raise_escalation" or effect.kind.startswith("desk_"):
        if ctx.desk is None:
            raise ValueError(f"effect {effect.kind!r} needs the escalation desk")
        return ctx.desk.apply(ctx, effect)  # type: ignore[no-any-return]
    handler = ctx.features.get(effect.kind) or _HANDLERS.get(effect.kind)
    if handler is None:
        raise ValueError(f"unknown effect {effect.kind!r}")
    return handler(ctx, effect)


def _record_consent(ctx: EffectContext, effect: Effect) -> tuple[Reply, ...]:
    purpose, decision = effect.args["purpose"], effect.args["decision"]
    consent_store.append_consent(
        ctx.session,
        person_id=ctx.person.id or 0,
        purpose=purpose,
        decision=decision,
        phone=ctx.person.phone_e164,
        channel=ctx.inbound.channel,
        # A purpose with wording of its own (study reminders) names its own version.
        text_version=effect.args.get("text_version", ctx.consent_text_version),
        locale=ctx.t.locale,
        source_message_id=ctx.inbound.external_id,
        now=ctx.now,
    )
    ctx.consent[purpose] = decision
    return ()


def _record_child_consent(ctx: EffectContext, effect: Effect) -> tuple[Reply, ...]:
    """A parent decides for their child under 13 (the link is checked again in storage)."""
    guardians.record_for_child(
        ctx.session,
        parent_id=ctx.person.id or 0,
        child_id=int(effect.args["child_id"]),
        purpose=effect.args["purpose"],
        decision=effect.args["decision"],
        channel=ctx.inbound.channel,
        text_version=effect.args["text_version"],
        locale=ctx.t.locale,
        source_message_id=ctx.inbound.external_id,
        now=ctx.now,
    )
    return ()


def _set_phone(ctx: EffectContext, effect: Effect) -> tuple[Reply, ...]:
    e164 = effect.args["e164"]
    people.update_person(ctx.session, ctx.person, phone_e164=e164)
    if e164:
        # The same person texting in later is recognised: the phone becomes an SMS identity.
        people.link_identity(ctx.session, ctx.person.id or 0, Channel.SMS, e164, ctx.now)
    return ()


def _set_locale(ctx: EffectContext, effect: Effect) -> tuple[Reply, ...]:
    people.update_person(ctx.session, ctx.person, locale=effect.args["locale"])
    return ()


def _erase(ctx: EffectContext, effect: Effect) -> tuple[Reply, ...]:
    person_id = ctx.person.id or 0
    erase_person(ctx.session, person_id, ctx.now)
    ctx.erased = True
    return ()


def _show_my_data(ctx: EffectContext, effect: Effect) -> tuple[Reply, ...]:
    held = export_person(ctx.session, ctx.person.id or 0, ctx.now)
    assert held is not None  # the person writing exists and is not erased
    with_file = ctx.inbound.channel != Channel.SMS  # SMS cannot carry a file
    text = describe_stored_data(ctx.t, held, with_file=with_file)
    return (Reply(text, attachment=export_file(held) if with_file else None),)


def export_file(held: dict[str, Any]) -> Attachment:
    data = json.dumps(held, ensure_ascii=False, indent=2).encode()
    return Attachment("mydata.json", "application/json", data)


def _show_help(ctx: EffectContext, effect: Effect) -> tuple[Reply, ...]:
    return (help_reply(ctx.t),)


def _phone(ctx: EffectContext) -> str | None:
    """The number a compliance keyword is about: the sender's, on SMS."""
    if ctx.inbound.channel == Channel.SMS:
        return ctx.inbound.address
    return ctx.person.phone_e164


def _phone_opt_out(ctx: EffectContext, effect: Effect) -> tuple[Reply, ...]:
    if phone := _phone(ctx):
        sms_store.opt_out(ctx.session, phone, ctx.now, source="sms_keyword")
    return ()


def _phone_opt_in(ctx: EffectContext, effect: Effect) -> tuple[Reply, ...]:
    if phone := _phone(ctx):
        sms_store.opt_in(ctx.session, phone, ctx.now, source="sms_keyword")
    return ()


def _phone_pause(ctx: EffectContext, effect: Effect) -> tuple[Reply, ...]:
    if phone := _phone(ctx):
        sms_store.pause(ctx.session, phone, ctx.now, int(effect.args["days"]))
    return ()


# STOP, START and PAUSE said in a chat (Telegram, web chat): that chat's own state.
def _chat_opt_out(ctx: EffectContext, effect: Effect) -> tuple[Reply, ...]:
    chat_opt_outs.opt_out_chat(ctx.session, ctx.inbound.channel, ctx.inbound.address, ctx.now)
    return ()


def _chat_opt_in(ctx: EffectContext, effect: Effect) -> tuple[Reply, ...]:
    chat_opt_outs.opt_in_chat(ctx.session, ctx.inbound.channel, ctx.inbound.address)
    return ()


def _chat_pause(ctx: EffectContext, effect: Effect) -> tuple[Reply, ...]:
    inbound, days = ctx.inbound, int(effect.args["days"])
    chat_opt_outs.pause_chat(ctx.session, inbound.channel, inbound.address, ctx.now, days)
    return ()


def _record_answer(ctx: EffectContext, effect: Effect) -> tuple[Reply, ...]:
    knowledge_answers.record_answer(
        ctx.session,
        person_id=ctx.person.id,
        entry_id=effect.args["entry_id"],
        locale=ctx.t.locale,
        channel=ctx.inbound.channel,
        confidence=float(effect.args["confidence"]),
        now=ctx.now,
    )
    return ()


def _answer_feedback(ctx: EffectContext, effect: Effect) -> tuple[Reply, ...]:
    entry_id = effect.args.get("entry_id")
    if entry_id:
        knowledge_answers.record_feedback(
            ctx.session, ctx.person.id or 0, entry_id, bool(effect.args["helpful"]), ctx.now
        )
    return ()


_HANDLERS = {
    "record_answer": _record_answer,
    "answer_feedback": _answer_feedback,
    "show_help": _show_help,
    "record_consent": _record_consent,
    "record_child_consent": _record_child_consent,
    "set_phone": _set_phone,
    "set_locale": _set_locale,
    "erase_person": _erase,
    "show_my_data": _show_my_data,
    "phone_opt_out": _phone_opt_out,
    "phone_opt_in": _phone_opt_in,
    "phone_pause": _phone_pause,
    "chat_opt_out": _chat_opt_out,
    "chat_opt_in": _chat_opt_in,
    "chat_pause": _chat_pause,
}
