"""HTTP for nudges: `POST /api/v1/events` from the LMS, and `GET /l/<token>` tracked links."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, HTTPException
from fastapi.responses import RedirectResponse

from scheduler.tracking import read_link_token
from storage.ingest import ingest_events
from storage.lifecycle import mark_clicked

MAX_BATCH = 1_000
EXAMPLE = {"events": [{"id": "evt-1", "student": "lms-42", "type": "test_completed",
                       "occurred_at": "2026-11-23T15:00:00Z", "ref": "quiz-3", "score": 87}]}


def _authorised(runtime: Any, authorization: str | None) -> None:
    token = runtime.settings.api_token
    scheme, _, given = (authorization or "").partition(" ")
    if token is None or scheme.lower() != "bearer" or not hmac.compare_digest(
        given.encode(), token.get_secret_value().encode()
    ):
        raise HTTPException(401, "a valid bearer token is required",
                            headers={"WWW-Authenticate": "Bearer"})


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
        _authorised(runtime, authorization)
        batch = body.get("events")
        if not isinstance(batch, list):
            raise HTTPException(422, "expected {\"events\": [...]}")
        if len(batch) > MAX_BATCH:
            raise HTTPException(413, f"at most {MAX_BATCH} events per request")
        now = runtime.clock.now()
        outcome = await runtime.db.run(lambda s: ingest_events(s, batch, now))
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
