"""Campaigns paused by admins (kept in the database; the planner and the sender respect it)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session

from storage.tables import CampaignState


def paused_campaigns(session: Session) -> set[str]:
    query = select(CampaignState.campaign_id).where(CampaignState.paused.is_(True))  # type: ignore[attr-defined]
    return set(session.execute(query).scalars())


def set_paused(
    session: Session, campaign_id: str, paused: bool, now: datetime, by: int | None
) -> bool:
    """True when this changed the state (pausing a paused campaign changes nothing)."""
    row = session.get(CampaignState, campaign_id)
    if row is not None and row.paused == paused:
        return False
    if row is None:
        row = CampaignState(campaign_id=campaign_id, paused=paused, updated_at=now, updated_by=by)
    row.paused, row.updated_at, row.updated_by = paused, now, by
    session.add(row)
    session.flush()
    return True
