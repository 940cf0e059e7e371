"""A nudge's life after planning: engaged, converted or expired, cascaded, cancelled.

created (`planned`, then `pending`) -> `held` -> `sent` -> delivered (`delivered_at`) ->
engaged (`engaged_at`: a tracked-link click or a reply) -> `outcome` = converted (the target
event inside the attribution window; `converted_at`) or expired (the window closed first).
Holdout rows get the same conversion check from the time they would have been sent, for lift.
All statements are set-based and bounded in time; no datetime arithmetic runs in SQL.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, text, update
from sqlmodel import Session

from core.consent import IMPLIED_CONSENT
from storage.plan_sql import consent_clause
from storage.sql_params import sql
from storage.tables import UNENGAGED_NUDGE, Delivery

REPLY_ENGAGES_WITHIN = timedelta(days=3)
CASCADE_LOOKBACK = timedelta(days=3)
CASCADE_EXPIRES_AFTER = timedelta(days=1)
ACTIVE = "('planned', 'pending', 'held')"


def mark_clicked(session: Session, delivery_id: int, now: datetime) -> str | None:
    """Record a tracked-link click; returns where to send the person (None: unknown link)."""
    row = session.execute(
        sql("SELECT meta FROM delivery WHERE id = :id AND kind = 'nudge'", {"id": delivery_id})
    ).first()
    if row is None:
        return None
    session.execute(
        sql(
            """UPDATE delivery SET engaged_at = :now, updated_at = :now
        WHERE id = :id AND engaged_at IS NULL""",
            {"id": delivery_id, "now": now},
        )
    )
    meta = json.loads(row[0]) if isinstance(row[0], str) else row[0] or {}
    return str(meta.get("target") or "") or None


_DELIVERY = Delivery.__table__
# Built once: this runs on every inbound message, so it must not be compiled per call.
_MARK_REPLIED = (
    update(_DELIVERY)
    # The condition is written as the partial index's own text, so SQLite can use the index.
    .where(
        _DELIVERY.c.person_id == bindparam("pid"),
        text(UNENGAGED_NUDGE),
        _DELIVERY.c.sent_at > bindparam("since"),
    )
    .values(engaged_at=bindparam("now"), updated_at=bindparam("now"))
)


def mark_replied(session: Session, person_id: int, now: datetime) -> int:
    """A message from the person engages the nudges they were sent recently."""
    params = {"pid": person_id, "now": now, "since": now - REPLY_ENGAGES_WITHIN}
    result = session.connection().execute(_MARK_REPLIED, params)
    return result.rowcount or 0


def attribute(
    session: Session, campaign_id: str, target: str, window: timedelta, now: datetime
) -> tuple[int, int]:
    """Convert rows whose window is open and whose target event happened; expire closed ones.

    Checked every tick, so an event is credited at most one tick after its window closed.
    """
    params: dict[str, Any] = {
        "cid": campaign_id,
        "target": target,
        "now": now,
        "open_since": now - window,
    }
    found = """FROM learning_event e WHERE e.person_id = delivery.person_id
        AND e.type = :target AND e.occurred_at > COALESCE(delivery.sent_at, delivery.due_at)
        AND e.occurred_at <= :now"""
    mine = """campaign_id = :cid AND status IN ('sent', 'holdout') AND outcome IS NULL
        AND parent_id IS NULL"""
    converted = session.execute(
        sql(
            f"""UPDATE delivery
        SET outcome = 'converted', converted_at = (SELECT MIN(e.occurred_at) {found}),
            updated_at = :now
        WHERE {mine} AND COALESCE(sent_at, due_at) > :open_since
          AND EXISTS (SELECT 1 {found})""",
            params,
        )
    )
    expired = session.execute(
        sql(
            f"""UPDATE delivery SET outcome = 'expired', updated_at = :now
        WHERE {mine} AND COALESCE(sent_at, due_at) <= :open_since""",
            params,
        )
    )
    return converted.rowcount or 0, expired.rowcount or 0  # type: ignore[attr-defined]


def cascade(
    session: Session, campaign_id: str, source: str, to: str, after: timedelta, now: datetime
) -> int:
    """Follow up unengaged `source` nudges on `to`: `after` they were sent, or at once when the
    source identity is unreachable. Only for people with a reachable `to` identity and consent;
    the policy still holds the follow-up to the next allowed local time."""
    params: dict[str, Any] = {
        "cid": campaign_id,
        "src": source,
        "to": to,
        "now": now,
        "suffix": f":{to}",
        "sent_before": now - after,
        "since": now - after - CASCADE_LOOKBACK,
        "recent": now - CASCADE_LOOKBACK,
        "expires": now + CASCADE_EXPIRES_AFTER,
        "purpose": "nudges",
        "implied": IMPLIED_CONSENT["nudges"],
    }
    statement = f"""
    INSERT INTO delivery (person_id, channel, address, kind, purpose, text, choices, status,
        due_at, expires_at, dedupe_key, attempts, campaign_id, meta, created_at, updated_at,
        segment, anchor_event_id, step, parent_id)
    SELECT d.person_id, :to, i.address, 'nudge', d.purpose, d.text, '[]', 'pending', :now,
        :expires, d.dedupe_key || :suffix, 0, d.campaign_id, d.meta, :now, :now, d.segment,
        d.anchor_event_id, d.step, d.id
    FROM delivery d
    JOIN person p ON p.id = d.person_id
    JOIN identity i ON i.id = (SELECT ci.id FROM identity ci WHERE ci.person_id = d.person_id
        AND ci.channel = :to AND ci.reachable = TRUE ORDER BY ci.id LIMIT 1)
    WHERE d.campaign_id = :cid AND d.channel = :src AND d.kind = 'nudge'
      AND d.parent_id IS NULL AND d.engaged_at IS NULL
      AND ((d.status = 'sent' AND d.sent_at <= :sent_before AND d.sent_at > :since)
        OR (d.status IN ('failed', 'suppressed', 'pending', 'held') AND d.updated_at > :recent
            AND EXISTS (SELECT 1 FROM identity t WHERE t.channel = :src
                AND t.address = d.address AND t.reachable = FALSE)))
      AND {consent_clause()}
    ON CONFLICT DO NOTHING
    RETURNING id"""
    created = len(session.execute(sql(statement, params)).all())
    if created:  # the blocked source will never go: stop it so it is not retried
        session.execute(
            sql(
                f"""UPDATE delivery SET status = 'suppressed',
            error = 'unreachable', updated_at = :now
            WHERE campaign_id = :cid AND channel = :src AND status IN {ACTIVE}
              AND EXISTS (SELECT 1 FROM delivery c WHERE c.parent_id = delivery.id)""",
                params,
            )
        )
    return created


def cancel_resolved(
    session: Session, campaign_id: str, stop_types: tuple[str, ...], now: datetime
) -> int:
    """Nudges not sent yet whose reason went away (submitted, completed, logged in)."""
    if not stop_types:
        return 0
    result = session.execute(
        sql(
            f"""UPDATE delivery SET status = 'cancelled',
        error = 'resolved', updated_at = :now
        WHERE campaign_id = :cid AND status IN {ACTIVE} AND anchor_event_id IS NOT NULL
          AND EXISTS (SELECT 1 FROM learning_event a JOIN learning_event x
              ON x.person_id = a.person_id
              WHERE a.id = delivery.anchor_event_id AND x.type IN :stops
                AND x.occurred_at > a.occurred_at AND x.occurred_at <= :now
                AND (a.ref IS NULL OR x.ref IS NULL OR x.ref = a.ref))""",
            {"cid": campaign_id, "stops": stop_types, "now": now},
        )
    )
    return result.rowcount or 0  # type: ignore[attr-defined]


def cancel_engaged_followups(session: Session, now: datetime) -> int:
    """A follow-up is moot once the person engaged with the first message."""
    result = session.execute(
        sql(
            f"""UPDATE delivery SET status = 'cancelled',
        error = 'engaged', updated_at = :now
        WHERE parent_id IS NOT NULL AND status IN {ACTIVE}
          AND EXISTS (SELECT 1 FROM delivery pd WHERE pd.id = delivery.parent_id
              AND pd.engaged_at IS NOT NULL)""",
            {"now": now},
        )
    )
    return result.rowcount or 0  # type: ignore[attr-defined]
