"""What each campaign achieved in a period: the funnel of its nudges and its holdout group.

Counted from the first nudge of each plan (follow-ups are the same nudge on another channel);
"treated" are the nudges that were sent, "control" the holdout rows planned in the same period.
Both groups get their conversion from the same attribution (storage/lifecycle.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from storage.sql_params import sql


@dataclass(frozen=True, slots=True)
class CampaignResult:
    campaign_id: str
    planned: int = 0
    sent: int = 0
    delivered: int = 0
    engaged: int = 0
    converted: int = 0
    holdout: int = 0
    holdout_converted: int = 0


_QUERY = """SELECT campaign_id,
        SUM(CASE WHEN status <> 'holdout' THEN 1 ELSE 0 END),
        SUM(CASE WHEN status <> 'holdout' AND sent_at IS NOT NULL THEN 1 ELSE 0 END),
        SUM(CASE WHEN delivered_at IS NOT NULL THEN 1 ELSE 0 END),
        SUM(CASE WHEN engaged_at IS NOT NULL THEN 1 ELSE 0 END),
        SUM(CASE WHEN status <> 'holdout' AND sent_at IS NOT NULL AND outcome = 'converted'
                 THEN 1 ELSE 0 END),
        SUM(CASE WHEN status = 'holdout' THEN 1 ELSE 0 END),
        SUM(CASE WHEN status = 'holdout' AND outcome = 'converted' THEN 1 ELSE 0 END)
    FROM delivery
    WHERE campaign_id IS NOT NULL AND parent_id IS NULL AND created_at >= :since
    GROUP BY campaign_id"""


def campaign_results(session: Session, since: datetime) -> dict[str, CampaignResult]:
    rows = session.execute(sql(_QUERY, {"since": since}))
    return {row[0]: CampaignResult(row[0], *(int(v or 0) for v in row[1:])) for row in rows}
