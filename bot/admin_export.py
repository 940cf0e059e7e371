"""CSV exports for admins: consent records, deliveries, escalations, campaign results.

The same files come from `/export [DAYS]` in the chat (one document each) and from
`GET /api/v1/export/{kind}?days=` over HTTP. Rows are written as they are read (no list of
every row in memory); the chat caps the window so a file stays small enough to send.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from bot.messages import Attachment
from scheduler.lift import lift
from storage.campaign_results import campaign_results
from storage.tables import ConsentRecord, Delivery, Escalation

DEFAULT_DAYS = 30
MAX_DAYS = 366


def _iso(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return json.dumps(value) if isinstance(value, list | dict) else value


def _rows(session: Session, model: Any, since: datetime, columns: tuple[str, ...]
          ) -> Iterator[list[Any]]:  # fmt: skip
    query = select(*(getattr(model, c) for c in columns)).where(model.created_at >= since)
    for row in session.execute(query.order_by(model.id).execution_options(yield_per=1000)):
        yield [_iso(v) for v in row]


CONSENT_COLUMNS = ("id", "person_id", "purpose", "decision", "phone_e164", "phone_hash",
                   "channel", "text_version", "locale", "actor", "created_at")  # fmt: skip
DELIVERY_COLUMNS = ("id", "person_id", "channel", "kind", "purpose", "campaign_id", "status",
                    "error", "segment", "step", "created_at", "sent_at", "delivered_at",
                    "engaged_at", "converted_at", "outcome")  # fmt: skip
ESCALATION_COLUMNS = ("id", "person_id", "status", "priority", "reasons", "tags", "mentor_id",
                      "breaches", "resolution", "created_at", "taken_at", "first_response_at",
                      "closed_at")  # fmt: skip
RESULT_COLUMNS = ("campaign_id", "planned", "sent", "delivered", "engaged", "converted",
                  "holdout", "holdout_converted", "lift", "lift_low_95",
                  "lift_high_95")  # fmt: skip


def _results(session: Session, since: datetime) -> Iterator[list[Any]]:
    for cid, r in sorted(campaign_results(session, since).items()):
        found = lift(r.converted, r.sent, r.holdout_converted, r.holdout)
        yield [cid, r.planned, r.sent, r.delivered, r.engaged, r.converted, r.holdout,
               r.holdout_converted, found.difference, found.low, found.high]  # fmt: skip


Reader = Callable[[Session, datetime], Iterable[list[Any]]]
KINDS: dict[str, tuple[tuple[str, ...], Reader]] = {
    "consent": (CONSENT_COLUMNS, lambda s, t: _rows(s, ConsentRecord, t, CONSENT_COLUMNS)),
    "deliveries": (DELIVERY_COLUMNS, lambda s, t: _rows(s, Delivery, t, DELIVERY_COLUMNS)),
    "escalations": (ESCALATION_COLUMNS,
                    lambda s, t: _rows(s, Escalation, t, ESCALATION_COLUMNS)),
    "campaign_results": (RESULT_COLUMNS, _results),
}  # fmt: skip


def csv_text(session: Session, kind: str, since: datetime) -> str:
    columns, read = KINDS[kind]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    writer.writerows(read(session, since))
    return buffer.getvalue()


def export_files(session: Session, now: datetime, days: int) -> list[Attachment]:
    since = now - timedelta(days=days)
    stamp = now.strftime("%Y%m%d")
    return [
        Attachment(f"{kind}-{stamp}-{days}d.csv", "text/csv",
                   csv_text(session, kind, since).encode())
        for kind in KINDS
    ]  # fmt: skip
