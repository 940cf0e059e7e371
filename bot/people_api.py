"""Data rights over HTTP for admins: a person's data as JSON, and erasure (bearer token)."""

from __future__ import annotations

from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Header, HTTPException, Path, Response
from sqlmodel import Session

from bot.api_auth import require_api_token
from storage import audit
from storage.erasure import erase_person
from storage.export import export_person

log = structlog.get_logger("mentorbot.people_api")
NOT_FOUND = "no such person (or erased already)"
PersonId = Annotated[int, Path(ge=1, le=2**31 - 1)]  # the database's integer range


def people_routes(runtime: Any) -> APIRouter:
    api = APIRouter()

    @api.get("/api/v1/people/{person_id}/export")
    async def export(
        person_id: PersonId, authorization: Annotated[str | None, Header()] = None
    ) -> dict[str, Any]:
        """Everything held about the person (the same file /mydata attaches)."""
        require_api_token(runtime, authorization)
        now = runtime.clock.now()
        held = await runtime.db.run(lambda s: export_person(s, person_id, now))
        if held is None:
            raise HTTPException(404, NOT_FOUND)
        return held

    @api.delete("/api/v1/people/{person_id}", status_code=204)
    async def erase(
        person_id: PersonId, authorization: Annotated[str | None, Header()] = None
    ) -> Response:
        """Erase the person in one transaction; only the proof of consent stays."""
        require_api_token(runtime, authorization)
        now = runtime.clock.now()
        def work(session: Session) -> bool:
            erased = erase_person(session, person_id, now)
            if erased:  # the trail keeps the id only: it names nobody any more
                audit.record(session, actor="api", action="person.erase", now=now,
                             params={"person": person_id})  # fmt: skip
            return erased

        if not await runtime.db.run(work):
            raise HTTPException(404, NOT_FOUND)
        log.info("person.erased", person=person_id, by="api")
        return Response(status_code=204)

    return api
