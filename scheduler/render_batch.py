"""Render a batch of planned nudges: words in the person's language, send time, tracked link.

Per created row (the brief allows rendering row by row); every lookup is batched: the claim
joins people and anchor events, then recent activity (active hours, streaks, one row per
person) and classmates' progress (social proof, counted once per run and ref). Per-row work
avoids what repeats: locales are resolved once per batch, templates, parsed texts and UTM
targets are cached, and each row's activity is converted to local time once.

It reads what it needs of the planner through a `RenderContext` (campaigns, translator,
settings), so the planner imports this module and not the other way round.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session

from core.i18n import Gettext, Translator
from scheduler.campaigns import Campaign
from scheduler.catalog import STREAK_MIN
from scheduler.nudge_config import NudgeConfig, fire_offset
from scheduler.nudge_text import (
    NudgeFacts,
    choose_template,
    nudge_text,
    streak_days,
    template_params,
    within_active_hours,
)
from scheduler.personas import ACTIVE_HOURS_MAX_POINTS, hours_window
from scheduler.tracking import make_link_token, tracked_url, utm_target
from storage import plan_render as store
from storage.plan_render import RenderedRow as Rendered

ACTIVITY_LOOKBACK = timedelta(days=21)  # active hours and streaks (capped at 21 days)
Peers = dict[tuple[str, str], tuple[int, int]]


@dataclass(slots=True)
class RenderContext:
    """What rendering reads of the planner, and the classmates' counts of the current run."""

    by_id: Mapping[str, Campaign]
    translator: Translator
    config: NudgeConfig
    run: datetime | None = None  # the `now` the counts below were read for
    peers: Peers = field(default_factory=dict)

    def peers_for(self, session: Session, now: datetime, wanted: set[tuple[str, str]]) -> Peers:
        """(done, total) classmates per (ref, anchor type): each counted once per run, as the
        batches of one run share most refs (a cohort's rows are spread over every batch)."""
        if self.run != now:
            self.run, self.peers = now, {}
        missing = wanted - self.peers.keys()
        if missing:
            self.peers |= store.peer_counts(session, missing)
        return self.peers


def render_planned(session: Session, ctx: RenderContext, now: datetime, limit: int) -> int:
    """Render (and save) the next `limit` planned rows; how many there were."""
    rows = store.claim_planned(session, limit)
    if rows:
        store.save_rendered(session, render_rows(session, ctx, rows, now), now)
    return len(rows)


def render_rows(session: Session, ctx: RenderContext, rows: Sequence[store.PlannedRow],
                now: datetime) -> list[Rendered]:
    """Each row rendered, with every lookup batched for the whole list."""
    person_ids = {r.person_id for r in rows}
    activity = store.activity_since(session, person_ids, now - ACTIVITY_LOOKBACK, now)
    # The last activity is the newest one fetched; ask the database only for the others.
    seen = {pid: times[-1] for pid, times in activity.items() if times}
    seen |= store.last_seen(session, person_ids - seen.keys(), now)
    peers = ctx.peers_for(session, now, _peer_keys(rows))
    locales: dict[str | None, Gettext] = {}
    rendered = []
    for row in rows:
        if row.locale not in locales:  # resolving a locale parses it with Babel: once per batch
            locales[row.locale] = ctx.translator.for_locale(row.locale)
        rendered.append(_render_row(ctx, row, locales[row.locale], activity, seen, peers))
    return rendered


def _render_row(ctx: RenderContext, row: store.PlannedRow, t: Gettext,
                activity: dict[int, list[datetime]], seen: dict[int, datetime],
                peers: Peers) -> Rendered:
    campaign = ctx.by_id.get(row.campaign_id)
    if campaign is None:  # removed from the file since planning
        return Rendered(row.id, "suppressed", "", row.due_at, None, {}, "no_campaign")
    zone = row.time_zone or ctx.config.fallback_zone
    local = _local_times(activity.get(row.person_id, ()), zone)
    facts = _facts(campaign, row, zone, local, seen, peers)
    return _rendered(ctx.config, campaign, row, t, facts, local)


def _peer_keys(rows: Sequence[store.PlannedRow]) -> set[tuple[str, str]]:
    return {(row.anchor_ref, row.anchor_type) for row in rows
            if row.anchor_ref and row.anchor_type in store.PEER_DONE}


def _local_times(activity: Sequence[datetime], zone: str) -> list[datetime]:
    """The person's recent activity in their zone, oldest first: streaks and active hours."""
    tz = ZoneInfo(zone)
    return [moment.astimezone(tz) for moment in activity]


def _facts(campaign: Campaign, row: store.PlannedRow, zone: str, local: list[datetime],
           seen: dict[int, datetime], peers: Peers) -> NudgeFacts:
    anchor_at = row.anchor_at if row.anchor_type is not None else None
    fire = anchor_at + fire_offset(campaign, row.step) if anchor_at else row.due_at
    payload: dict[str, Any] = (row.anchor_payload or {}) if anchor_at else {}
    ref = row.anchor_ref if anchor_at else None
    peer = peers.get((ref, row.anchor_type)) if ref else None  # type: ignore[arg-type]
    today = fire.astimezone(ZoneInfo(zone)).date()
    return NudgeFacts(
        scenario=campaign.scenario, segment=row.segment, zone=zone,
        name=(row.display_name or "").split(" ")[0],
        course=str(payload.get("course") or row.program or ""), fire_at=fire,
        anchor_type=row.anchor_type if anchor_at else None, anchor_at=anchor_at,
        score=row.anchor_score if anchor_at else None,
        class_title=str(payload.get("title") or ref or ""),
        due_at=_parse_time(payload.get("due_at")), last_seen_at=seen.get(row.person_id),
        streak=streak_days({moment.date() for moment in local}, today), peers=peer)


def _rendered(config: NudgeConfig, campaign: Campaign, row: store.PlannedRow, t: Gettext,
              facts: NudgeFacts, local: list[datetime]) -> Rendered:
    expires = facts.fire_at + campaign.expires_after
    if campaign.scenario == "streak" and facts.streak < STREAK_MIN:
        return Rendered(row.id, "skipped", "", facts.fire_at, expires, {}, "streak_below_min")
    due = facts.fire_at
    if not campaign.trigger.schedule:
        hours = hours_window([moment.hour for moment in local[-ACTIVE_HOURS_MAX_POINTS:]])
        due = within_active_hours(due, expires, facts.zone, hours)
    template = choose_template(facts)
    link = tracked_url(config.public_url, make_link_token(row.id, config.link_secret))
    target = utm_target(config.link_base, channel=row.channel, campaign=campaign.id,
                        day=f"{facts.fire_at:%Y%m%d}", template=template.key, segment=row.segment)
    text = nudge_text(template, template_params(facts, t.locale, link), t)
    meta = {"template": template.key, "priority": campaign.priority, "locale": t.locale,
            "cap_exempt": campaign.cap_exempt, "link": link, "target": target,
            "button": bool(template.button_msgid)}
    return Rendered(row.id, "pending", text, due, expires, meta, None)


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None
