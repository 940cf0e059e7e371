"""Turning one planned nudge into words and a send time: pure functions, no I/O.

The planner's SQL decides *who* gets *which* campaign; this decides the template (scenario x
persona x score band), fills it in the person's language, and moves the send time into the
person's usual active hours when their history shows them.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton

from core.i18n import Gettext
from scheduler.catalog import BANDED_SCENARIOS, Template, pick_template, render, render_button
from scheduler.personas import Engagement, Performance, score_band


@dataclass(frozen=True, slots=True)
class NudgeFacts:
    """What the renderer knows about one planned nudge."""

    scenario: str
    segment: str  # "engagement.performance"
    zone: str
    name: str
    course: str
    fire_at: datetime
    anchor_type: str | None = None
    anchor_at: datetime | None = None
    score: float | None = None
    class_title: str = ""
    due_at: datetime | None = None
    last_seen_at: datetime | None = None
    streak: int = 0
    peers: tuple[int, int] | None = None  # (done, total) classmates


def choose_template(facts: NudgeFacts) -> Template:
    band: Performance | None = None
    if facts.scenario in BANDED_SCENARIOS:
        band = score_band(facts.score) if facts.score is not None else Performance.MIDDLE
    return _template_for(facts.scenario, facts.segment.split(".")[0], band)


@lru_cache(maxsize=1024)
def _template_for(scenario: str, engagement: str, band: Performance | None) -> Template:
    return pick_template(scenario, Engagement(engagement), band)


def template_params(facts: NudgeFacts, locale: str, link: str) -> dict[str, object]:
    since = facts.last_seen_at or facts.anchor_at or facts.fire_at
    if facts.scenario in ("no_recent_test", "inactive") and facts.anchor_at is not None:
        since = facts.anchor_at
    params: dict[str, object] = {
        "name": facts.name, "course": facts.course, "class_title": facts.class_title,
        "due": _local_day(facts.due_at or facts.anchor_at or facts.fire_at, facts.zone, locale),
        "score": round(facts.score) if facts.score is not None else 0,
        "days": max(1, (facts.fire_at - since).days), "streak": facts.streak, "link": link,
    }
    if facts.peers is not None:
        params["peers_done"], params["peers_total"] = facts.peers
    return params


def nudge_text(template: Template, params: Mapping[str, object], t: Gettext) -> str:
    body = render(template, params, t.catalog.gettext, t.catalog.ngettext)
    button = render_button(template, t.catalog.gettext)
    return f"{body}\n\n{button} → {params['link']}" if button else body


def _local_day(moment: datetime, zone: str, locale: str) -> str:
    return _day_label(moment.astimezone(ZoneInfo(zone)).date(), locale)


@lru_cache(maxsize=4096)
def _day_label(day: date, locale: str) -> str:
    """"Thu, Dec 3" in the person's language (Babel is slow: one call per day and locale)."""
    return format_skeleton("MMMEd", day, locale=locale)


def within_active_hours(fire_at: datetime, expires_at: datetime, zone: str,
                        hours: tuple[int, int] | None) -> datetime:
    """`fire_at`, or the next start of the person's active hours if that is before expiry."""
    if hours is None:
        return fire_at
    first, last = hours
    local = fire_at.astimezone(ZoneInfo(zone))
    hour = local.hour
    inside = first <= hour <= last if first <= last else (hour >= first or hour <= last)
    if inside:
        return fire_at
    start = local.replace(hour=first, minute=0, second=0, microsecond=0)
    if start <= local:
        start = (local + timedelta(days=1)).replace(hour=first, minute=0, second=0, microsecond=0)
    moved = start.astimezone(fire_at.tzinfo)
    return moved if moved < expires_at else fire_at


def streak_days(active_days: Collection[date], today: date) -> int:
    """Consecutive local days with activity, ending today (or yesterday if not yet today)."""
    day = today if today in active_days else today - timedelta(days=1)
    count = 0
    while day in active_days:
        count += 1
        day -= timedelta(days=1)
    return count
