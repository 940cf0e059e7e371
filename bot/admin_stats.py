"""/stats: whether the program works, in numbers and three PNG charts (one reply each)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from bot.charts import escalations_chart, funnel_chart, nudges_chart
from bot.i18n import Gettext
from bot.messages import Attachment, Reply
from scheduler.lift import METHOD, lift
from storage import stats
from storage.campaign_results import CampaignResult, campaign_results

WINDOWS = (7, 30)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything /stats shows, as plain data (GET /api/v1/stats serves `as_json`)."""

    roles: dict[str, int]
    funnel: stats.Funnel
    opt_outs: dict[str, int]
    campaigns: dict[int, dict[str, CampaignResult]]
    answers: stats.Answers
    escalations: stats.Escalations
    daily: stats.Daily

    def as_json(self) -> dict[str, Any]:
        return {
            "people_by_role": self.roles,
            "consent_funnel": {
                "eligible": self.funnel.eligible, "offered": self.funnel.offered,
                "phone": self.funnel.phone, "consented": self.funnel.consented,
                "consent_rate": self.funnel.consent_rate, "target": stats.CONSENT_TARGET,
            },
            "opt_outs": self.opt_outs,
            "campaigns": {
                f"{days}d": {cid: campaign_json(r) for cid, r in sorted(found.items())}
                for days, found in self.campaigns.items()
            },
            "lift_method": METHOD,
            "knowledge_answers_30d": {
                "answered": self.answers.answered, "not_sure": self.answers.not_sure,
                "helpful": self.answers.helpful, "not_helpful": self.answers.not_helpful,
                "helpful_rate": self.answers.helpful_rate,
            },
            "escalations_30d": {
                "open": self.escalations.open, "raised": self.escalations.raised,
                "answered": self.escalations.answered, "breached": self.escalations.breached,
                "median_first_response_minutes":
                    self.escalations.median_first_response_minutes,
            },
        }  # fmt: skip


def campaign_json(result: CampaignResult) -> dict[str, Any]:
    found = lift(result.converted, result.sent, result.holdout_converted, result.holdout)
    return {
        "planned": result.planned, "sent": result.sent, "delivered": result.delivered,
        "engaged": result.engaged, "converted": result.converted, "holdout": result.holdout,
        "holdout_converted": result.holdout_converted,
        "conversion_rate": found.treated_rate, "holdout_conversion_rate": found.control_rate,
        "lift": found.difference, "lift_ci95": [found.low, found.high]
        if found.low is not None else None,
    }  # fmt: skip


def snapshot(session: Session, rule: stats.EligibilityParams, now: datetime) -> Snapshot:
    month = now - timedelta(days=30)
    return Snapshot(
        roles=stats.people_by_role(session),
        funnel=stats.funnel(session, rule, now),
        opt_outs=stats.opt_outs(session, now),
        campaigns={d: campaign_results(session, now - timedelta(days=d)) for d in WINDOWS},
        answers=stats.answers(session, month),
        escalations=stats.escalations(session, month),
        daily=stats.daily(session, now),
    )


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def stats_text(t: Gettext, shot: Snapshot) -> str:
    funnel, answers, esc = shot.funnel, shot.answers, shot.escalations
    roles = ", ".join(f"{role} {n}" for role, n in sorted(shot.roles.items())) or "—"
    lines = [
        t._("People: {roles}", roles=roles),
        t._("Coaching consent: {eligible} eligible → {offered} offered → {phone} gave a phone → "
            "{consented} consented: {rate} of offered (target {target})",
            eligible=funnel.eligible, offered=funnel.offered, phone=funnel.phone,
            consented=funnel.consented, rate=_pct(funnel.consent_rate),
            target=_pct(stats.CONSENT_TARGET)),
        t._("Opted out: {numbers} numbers, {chats} chats; paused: {paused}",
            numbers=shot.opt_outs["numbers_opted_out"], chats=shot.opt_outs["chats_opted_out"],
            paused=shot.opt_outs["numbers_paused"] + shot.opt_outs["chats_paused"]),
        t._("Answers (30 days): {answered} answered, {not_sure} not sure; helpful {rate}",
            answered=answers.answered, not_sure=answers.not_sure,
            rate=_pct(answers.helpful_rate)),
        t._("Mentors (30 days): {open} open now, {raised} raised, median first reply {median} "
            "min, {breached} missed the target",
            open=esc.open, raised=esc.raised, breached=esc.breached,
            median="—" if esc.median_first_response_minutes is None
            else f"{esc.median_first_response_minutes:.0f}"),
    ]  # fmt: skip
    lines.extend(_campaign_lines(t, shot))
    lines.append(t._("Lift: {method}.", method=METHOD))
    return "\n".join(lines)


def _campaign_lines(t: Gettext, shot: Snapshot) -> list[str]:
    lines = []
    for days in WINDOWS:
        found = shot.campaigns[days]
        lines.append(t._("Campaigns, last {days} days:", days=days))
        if not found:
            lines.append("  —")
        for cid, r in sorted(found.items()):
            effect = lift(r.converted, r.sent, r.holdout_converted, r.holdout)
            interval = "" if effect.low is None or effect.high is None else \
                f" [{effect.low:+.1%}, {effect.high:+.1%}]"
            difference = "—" if effect.difference is None else f"{effect.difference:+.1%}"
            lines.append(t._(
                "  {campaign}: {planned} planned, {sent} sent, {delivered} delivered, "
                "{engaged} engaged, {converted} converted; lift {lift}{interval}",
                campaign=cid, planned=r.planned, sent=r.sent, delivered=r.delivered,
                engaged=r.engaged, converted=r.converted, lift=difference, interval=interval))
    return lines  # fmt: skip


def stats_replies(t: Gettext, chart_t: Gettext, shot: Snapshot) -> tuple[Reply, ...]:
    """The figures, then each chart as an image with its caption."""

    def image(name: str, caption: str, png: bytes) -> Reply:
        return Reply(caption, attachment=Attachment(name, "image/png", png))

    return (
        Reply(stats_text(t, shot)),
        image("consent-funnel.png", t._("Chart: the coaching consent funnel"),
              funnel_chart(shot.funnel, chart_t)),
        image("nudges-by-day.png", t._("Chart: nudges by day and outcome (30 days)"),
              nudges_chart(shot.daily, chart_t)),
        image("escalations-by-day.png", t._("Chart: requests to mentors by day (30 days)"),
              escalations_chart(shot.daily, chart_t)),
    )  # fmt: skip
