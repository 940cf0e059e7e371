"""What admins do from the chat: each action checks the role again, and every change is audited.

The gate (bot/turn_gate.py) routes admin commands and `adm:` buttons here; an action is a
function (desk, ctx, argument) -> replies, listed in ACTIONS under its effect name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog

from bot import admin_broadcast, admin_people, admin_review
from bot.admin_export import DEFAULT_DAYS, MAX_DAYS, export_files
from bot.admin_stats import snapshot, stats_replies
from bot.effects import EffectContext
from bot.i18n import Gettext, Translator
from bot.messages import Channel, Choice, Reply
from handlers.admin import BUTTON_PREFIX, admin_help
from handlers.flow import Effect
from handlers.mentor import mentor_help
from scheduler.lift import lift
from storage import audit
from storage.campaign_results import CampaignResult, campaign_results
from storage.campaign_states import paused_campaigns, set_paused
from storage.stats import EligibilityParams

log = structlog.get_logger("mentorbot.admin")
RESULTS_WINDOW = timedelta(days=30)
CHART_FALLBACK = frozenset({"hi"})


@dataclass(frozen=True, slots=True)
class CampaignInfo:
    id: str
    description: str


Action = Callable[["AdminDesk", EffectContext, str], tuple[Reply, ...]]


class AdminDesk:
    def __init__(self, campaigns: Sequence[CampaignInfo], admin_chats: frozenset[str],
                 rule: EligibilityParams, translator: Translator, *,
                 bot_username: str | None = None,
                 invitation_ttl: timedelta = timedelta(days=7)) -> None:  # fmt: skip
        self.campaigns = {c.id: c for c in campaigns}
        self.bot_username = bot_username
        self.invitation_ttl = invitation_ttl
        self.admin_chats = admin_chats
        self.rule = rule
        self.translator = translator

    def chart_t(self, t: Gettext) -> Gettext:
        """Chart labels: matplotlib's bundled font has no Devanagari, so Hindi charts are
        labelled in English (the figures in the text stay Hindi)."""
        return self.translator.for_locale("en") if t.locale in CHART_FALLBACK else t

    def is_admin(self, ctx: EffectContext) -> bool:
        """Asked on every command and every button, never remembered."""
        if ctx.person.role == "admin" and ctx.person.erased_at is None:
            return True
        inbound = ctx.inbound
        return inbound.channel == Channel.TELEGRAM and inbound.address in self.admin_chats

    def apply(self, ctx: EffectContext, effect: Effect) -> tuple[Reply, ...]:
        if not self.is_admin(ctx):
            log.warning("admin.refused", person=ctx.person.id, action=effect.kind)
            return (Reply(ctx.t._("That command is for admins.")),)
        action = ACTIONS.get(effect.kind)
        if action is None:
            return self.help(ctx)
        return action(self, ctx, str(effect.args.get("arg", "")))

    def help(self, ctx: EffectContext) -> tuple[Reply, ...]:
        return (mentor_help(ctx.t), admin_help(ctx.t))

    def audit(self, ctx: EffectContext, action: str, **params: Any) -> None:
        audit.record(ctx.session, actor=f"person:{ctx.person.id}", actor_id=ctx.person.id,
                     action=action, params=params, now=ctx.now)  # fmt: skip
        log.info("admin.action", person=ctx.person.id, action=action, **params)


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _result_line(ctx: EffectContext, result: CampaignResult) -> str:
    found = lift(result.converted, result.sent, result.holdout_converted, result.holdout)
    if found.low is None or found.high is None:
        interval = ctx.t._("too few people for an interval")
    else:
        interval = f"95% CI {found.low:+.1%} … {found.high:+.1%}"
    return ctx.t._(
        "30 days: {sent} sent, {engaged} engaged, {converted} converted ({rate}); holdout "
        "{control} ({control_rate}); lift {lift} ({interval})",
        sent=result.sent, engaged=result.engaged, converted=result.converted,
        rate=_percent(found.treated_rate), control=result.holdout,
        control_rate=_percent(found.control_rate),
        lift="—" if found.difference is None else f"{found.difference:+.1%}", interval=interval,
    )  # fmt: skip


def campaigns(desk: AdminDesk, ctx: EffectContext, _arg: str) -> tuple[Reply, ...]:
    t = ctx.t
    paused = paused_campaigns(ctx.session)
    results = campaign_results(ctx.session, ctx.now - RESULTS_WINDOW)
    lines, buttons = [t._("Campaigns:")], []
    for campaign_id in sorted(desk.campaigns):
        state = t._("paused") if campaign_id in paused else t._("running")
        lines.append(f"• {campaign_id} ({state})")
        result = results.get(campaign_id, CampaignResult(campaign_id))
        lines.append("  " + _result_line(ctx, result))
        if campaign_id in paused:
            buttons.append(Choice(f"{BUTTON_PREFIX}resume:{campaign_id}",
                                  t._("Resume {campaign}", campaign=campaign_id)))  # fmt: skip
        else:
            buttons.append(Choice(f"{BUTTON_PREFIX}pause:{campaign_id}",
                                  t._("Pause {campaign}", campaign=campaign_id)))  # fmt: skip
    return (Reply("\n".join(lines), tuple(buttons)),)


def _set_paused(desk: AdminDesk, ctx: EffectContext, campaign_id: str,
                paused: bool) -> tuple[Reply, ...]:  # fmt: skip
    t = ctx.t
    if campaign_id not in desk.campaigns:
        return (Reply(t._("There is no campaign {campaign}.", campaign=campaign_id or "—")),)
    changed = set_paused(ctx.session, campaign_id, paused, ctx.now, ctx.person.id)
    if changed:
        desk.audit(ctx, "campaign.pause" if paused else "campaign.resume", campaign=campaign_id)
    if paused:
        text = t._("Campaign {campaign} is paused: no new nudges are planned for it.",
                   campaign=campaign_id)  # fmt: skip
    else:
        text = t._("Campaign {campaign} is running again.", campaign=campaign_id)
    return (Reply(text),)


def pause(desk: AdminDesk, ctx: EffectContext, arg: str) -> tuple[Reply, ...]:
    return _set_paused(desk, ctx, arg.strip(), True)


def resume(desk: AdminDesk, ctx: EffectContext, arg: str) -> tuple[Reply, ...]:
    return _set_paused(desk, ctx, arg.strip(), False)


def show_stats(desk: AdminDesk, ctx: EffectContext, _arg: str) -> tuple[Reply, ...]:
    shot = snapshot(ctx.session, desk.rule, ctx.now)
    return stats_replies(ctx.t, desk.chart_t(ctx.t), shot)


def export(desk: AdminDesk, ctx: EffectContext, arg: str) -> tuple[Reply, ...]:
    t = ctx.t
    raw = arg.strip() or str(DEFAULT_DAYS)
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_DAYS:
        return (Reply(t._("Usage: {command}", command=f"/export [1–{MAX_DAYS} days]")),)
    days = int(raw)
    files = export_files(ctx.session, ctx.now, days)
    desk.audit(ctx, "export", days=days)
    return tuple(Reply(t._("{file}: the last {days} days", file=f.name, days=days), attachment=f)
                 for f in files)  # fmt: skip


def audit_trail(desk: AdminDesk, ctx: EffectContext, _arg: str) -> tuple[Reply, ...]:
    rows = audit.latest(ctx.session)
    if not rows:
        return (Reply(ctx.t._("No admin actions yet.")),)
    lines = [ctx.t._("Latest admin actions:")]
    for row in rows:
        params = ", ".join(f"{k}={v}" for k, v in sorted(row.params.items()))
        when = row.created_at.strftime("%Y-%m-%d %H:%M UTC")
        lines.append(f"{when} · {row.actor} · {row.action}" + (f" · {params}" if params else ""))
    return (Reply("\n".join(lines)),)


ACTIONS: dict[str, Action] = {
    "admin_stats": show_stats,
    "admin_campaigns": campaigns,
    "admin_pause": pause,
    "admin_resume": resume,
    "admin_audit": audit_trail,
    "admin_export": export,
    "admin_review": admin_review.review,
    "admin_broadcast": admin_broadcast.start,
    "admin_bct": admin_broadcast.template,
    "admin_bck": admin_broadcast.kind,
    "admin_bcv": admin_broadcast.value,
    "admin_bcgo": admin_broadcast.send,
    "admin_bcno": admin_broadcast.cancel,
    "admin_resend": admin_review.resend,
    "admin_drop": admin_review.drop,
    "admin_find": admin_people.find,
    "admin_mentors": admin_people.mentors,
    "admin_admins": admin_people.admins,
    "admin_invite": admin_people.invite,
    "admin_remove": admin_people.remove_mentor,
}
