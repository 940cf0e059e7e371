"""The cascade and conversion tick: what happens to nudges after they were planned or sent."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session

from scheduler.campaigns import Campaign
from storage import lifecycle


@dataclass(slots=True)
class LifecycleReport:
    cancelled: int = 0
    cascaded: int = 0
    converted: int = 0
    expired: int = 0
    by_campaign: dict[str, dict[str, int]] = field(default_factory=dict)


def stop_types(campaign: Campaign) -> tuple[str, ...]:
    """Events that make a not-yet-sent nudge of this campaign moot."""
    found = list(campaign.repeat.stop_on) if campaign.repeat else []
    if campaign.trigger.absence:
        found.append(campaign.trigger.absence.missing)
    return tuple(dict.fromkeys(found))


def advance(session: Session, campaigns: Sequence[Campaign], now: datetime) -> LifecycleReport:
    """Cancel resolved nudges, cascade unengaged ones, then credit conversions."""
    report = LifecycleReport()
    for campaign in campaigns:
        counts = {"cancelled": lifecycle.cancel_resolved(session, campaign.id,
                                                         stop_types(campaign), now)}
        if campaign.cascade:
            counts["cascaded"] = lifecycle.cascade(session, campaign.id, campaign.channels[0],
                                                   campaign.cascade.to, campaign.cascade.after,
                                                   now)
        if campaign.attribution:
            converted, expired = lifecycle.attribute(
                session, campaign.id, campaign.attribution.target, campaign.attribution.window,
                now)
            counts |= {"converted": converted, "expired": expired}
        report.by_campaign[campaign.id] = counts
        report.cancelled += counts["cancelled"]
        report.cascaded += counts.get("cascaded", 0)
        report.converted += counts.get("converted", 0)
        report.expired += counts.get("expired", 0)
    report.cancelled += lifecycle.cancel_engaged_followups(session, now)
    return report
