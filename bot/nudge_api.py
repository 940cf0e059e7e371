"""HTTP for nudges: `POST /api/v1/events` from the LMS, and `GET /l/<token>` tracked links."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, HTTPException
from fastapi.responses import RedirectResponse
from sqlmodel import Session

from bot.api_auth import require_api_token
from scheduler.tracking import read_link_token
from storage import audit
from storage.ingest import ingest_events
from storage.lifecycle import mark_clicked

MAX_BATCH = 1_000
EXAMPLE = {"events": [{"id": "evt-1", "student": "lms-42", "type": "test_completed",
                       "occurred_at": "2026-11-23T15:00:00Z", "ref": "quiz-3", "score": 87}]}


def nudge_routes(runtime: Any) -> APIRouter:
    api = APIRouter()

    @api.post("/api/v1/events")
    async def events(
        body: Annotated[dict[str, Any], Body(examples=[EXAMPLE])],
        authorization: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        """Store a batch of up to 1,000 learning events; invalid ones come back with reasons.

        Idempotent by event id: a batch sent twice is stored once (`duplicates` counts them).
        """
        require_api_token(runtime, authorization)
        batch = body.get("events")
        if not isinstance(batch, list):
            raise HTTPException(422, "expected {\"events\": [...]}")
        if len(batch) > MAX_BATCH:
            raise HTTPException(413, f"at most {MAX_BATCH} events per request")
        now = runtime.clock.now()
        def work(session: Session) -> Any:
            outcome = ingest_events(session, batch, now)
            audit.record(session, actor="api", action="events.import", now=now,
                         params={"stored": outcome.stored, "duplicates": outcome.duplicates,
                                 "rejected": len(outcome.rejected)})  # fmt: skip
            return outcome

        outcome = await runtime.db.run(work)
        return {"stored": outcome.stored, "duplicates": outcome.duplicates,
                "rejected": outcome.rejected}

    @api.get("/l/{token}", include_in_schema=False)
    async def link(token: str) -> RedirectResponse:
        secret = runtime.settings.nudges.link_secret.get_secret_value()
        delivery_id = read_link_token(token, secret)
        if delivery_id is None:
            raise HTTPException(404, "unknown link")
        now = runtime.clock.now()
        target = await runtime.db.run(lambda s: mark_clicked(s, delivery_id, now))
        if target is None:
            raise HTTPException(404, "unknown link")
        return RedirectResponse(target, status_code=302)

    return api
