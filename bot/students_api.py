"""`POST /api/v1/students`: the LMS upserts students, the same rows as `mentorbot import
students`, under the same bearer token and answer shape as `POST /api/v1/events`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, HTTPException
from sqlmodel import Session

from bot.api_auth import require_api_token
from storage import audit
from storage.ingest import ingest_students

MAX_BATCH = 1_000
EXAMPLE = {
    "students": [
        {"lms_id": "lms-42", "name": "Ana García", "program": "microbachelors-cs",
         "track": "verified", "locale": "es", "time_zone": "America/New_York"},
        {"lms_id": "lms-43", "name": "Mia Chen", "birth_date": "2015-04-02"},
        {"lms_id": "lms-44", "name": "Sam Lee", "under_13": False},
    ]
}  # fmt: skip


def student_routes(runtime: Any) -> APIRouter:
    api = APIRouter(tags=["students"])

    @api.post("/api/v1/students")
    async def students(
        body: Annotated[dict[str, Any], Body(examples=[EXAMPLE])],
        authorization: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        """Upsert up to 1,000 students by LMS id; invalid rows come back with reasons.

        `under_13` (true/false) or `birth_date` (YYYY-MM-DD) set whether a student is under 13;
        a birth date is only read to work that out on the student's local today, never stored.
        A row with neither keeps what is stored. Sending the same batch twice is safe.
        """
        require_api_token(runtime, authorization)
        batch = body.get("students")
        if not isinstance(batch, list):
            raise HTTPException(422, 'expected {"students": [...]}')
        if len(batch) > MAX_BATCH:
            raise HTTPException(413, f"at most {MAX_BATCH} students per request")
        now = runtime.clock.now()
        def work(session: Session) -> Any:
            outcome = ingest_students(session, batch, now)
            audit.record(session, actor="api", action="students.import", now=now,
                         params={"stored": outcome.stored, "rejected": len(outcome.rejected)})
            return outcome

        outcome = await runtime.db.run(work)
        return {"stored": outcome.stored, "rejected": outcome.rejected}

    return api
