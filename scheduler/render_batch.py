"""Render a batch of planned nudges: words in the person's language, send time, tracked link.

Per created row (the brief allows rendering row by row); every lookup is batched: people,
anchor events, recent activity (active hours, streaks), classmates' progress (social proof).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlmodel import Session

from scheduler.campaigns import Campaign
from scheduler.catalog import STREAK_MIN
from scheduler.nudge_text import (
    NudgeFacts,
    choose_template,
    nudge_text,
    streak_days,
    template_params,
    within_active_hours,
)
from scheduler.personas import Event, active_hours
from scheduler.tracking import make_link_token, tracked_url, utm_target
from storage import plan_render as store

if TYPE_CHECKING:
    from scheduler.planner import Planner

ACTIVITY_LOOKBACK = timedelta(days=21)  # active hours and streaks (capped at 21 days)


def render_planned(session: Session, planner: Planner, now: datetime, limit: int) -> int:
    rows = store.claim_planned(session, limit)
    if not rows:
        return 0
    person_ids = {r.person_id for r in rows}
    people = store.people_for(session, person_ids)
    anchors = store.anchors_for(session, (r.anchor_event_id for r in rows))
    activity = store.activity_since(session, person_ids, now - ACTIVITY_LOOKBACK, now)
    # The last activity is the newest one fetched; ask the database only for the others.
    seen = {pid: times[-1] for pid, times in activity.items() if times}
    seen |= store.last_seen(session, person_ids - seen.keys(), now)
    peers = store.peer_counts(session, _peer_keys(rows, anchors))
    updates = []
    for row in rows:
        campaign = planner.by_id.get(row.campaign_id)
        person = people[row.person_id]
        anchor = anchors.get(row.anchor_event_id or -1)
        if campaign is None:  # removed from the file since planning
            updates.append(_update(row.id, now, "suppressed", row.due_at, None, {}, "no_campaign"))
            continue
        facts = _facts(planner, campaign, row, person, anchor, activity, seen, peers)
        updates.append(_rendered(planner, campaign, row, person, facts, activity, now))
    store.save_rendered(session, updates)
    return len(rows)


def _peer_keys(rows: list[store.PlannedRow], anchors: dict[int, Any]) -> set[tuple[str, str]]:
    keys = set()
    for row in rows:
        anchor = anchors.get(row.anchor_event_id or -1)
        if anchor and anchor.ref and anchor.type in store.PEER_DONE:
            keys.add((anchor.ref, anchor.type))
    return keys


def _facts(planner: Planner, campaign: Campaign, row: store.PlannedRow, person: Any,
           anchor: Any, activity: dict[int, list[datetime]],
           seen: dict[int, datetime], peers: dict[tuple[str, str], tuple[int, int]],
           ) -> NudgeFacts:
    zone = person.time_zone or planner.config.fallback_zone
    fire = anchor.occurred_at + planner.fire_offset(campaign, row.step) if anchor else row.due_at
    payload: dict[str, Any] = dict(anchor.payload) if anchor else {}
    peer = peers.get((anchor.ref, anchor.type)) if anchor and anchor.ref else None
    today = fire.astimezone(ZoneInfo(zone)).date()
    return NudgeFacts(
        scenario=campaign.scenario, segment=row.segment, zone=zone,
        name=(person.display_name or "").split(" ")[0],
        course=str(payload.get("course") or person.program or ""), fire_at=fire,
        anchor_type=anchor.type if anchor else None,
        anchor_at=anchor.occurred_at if anchor else None,
        score=anchor.score if anchor else None,
        class_title=str(payload.get("title") or (anchor.ref if anchor else "") or ""),
        due_at=_parse_time(payload.get("due_at")), last_seen_at=seen.get(row.person_id),
        streak=streak_days(activity.get(row.person_id, []), zone, today), peers=peer)


def _rendered(planner: Planner, campaign: Campaign, row: store.PlannedRow, person: Any,
              facts: NudgeFacts, activity: dict[int, list[datetime]],
              now: datetime) -> dict[str, Any]:
    expires = facts.fire_at + campaign.expires_after
    if campaign.scenario == "streak" and facts.streak < STREAK_MIN:
        return _update(row.id, now, "skipped", facts.fire_at, expires, {}, "streak_below_min")
    due = facts.fire_at
    if not campaign.trigger.schedule:
        history = [Event("login", at) for at in activity.get(row.person_id, [])]
        due = within_active_hours(due, expires, facts.zone, active_hours(history, facts.zone))
    template = choose_template(facts)
    t = planner.translator.for_locale(person.locale)
    link = tracked_url(planner.config.public_url,
                       make_link_token(row.id, planner.config.link_secret))
    target = utm_target(planner.config.link_base, channel=row.channel, campaign=campaign.id,
                        day=f"{facts.fire_at:%Y%m%d}", template=template.key, segment=row.segment)
    text = nudge_text(template, template_params(facts, t.locale, link), t)
    meta = {"template": template.key, "priority": campaign.priority, "locale": t.locale,
            "cap_exempt": campaign.cap_exempt, "link": link, "target": target,
            "button": bool(template.button_msgid)}
    return _update(row.id, now, "pending", due, expires, meta, None, text)


def _update(delivery_id: int, now: datetime, status: str, due: datetime,
            expires: datetime | None, meta: dict[str, Any], error: str | None,
            text: str = "") -> dict[str, Any]:
    return {"b_id": delivery_id, "b_status": status, "b_text": text, "b_due": due,
            "b_expires": expires, "b_meta": meta, "b_error": error, "b_now": now}


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None
