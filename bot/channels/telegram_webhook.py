"""HTTP routes: the Telegram webhook and the students' deep-link API.

`POST /telegram/webhook` checks `X-Telegram-Bot-Api-Secret-Token` in constant time (wrong or
missing: 401, nothing read). Telegram re-sends any update that did not get a 2xx, forever, so a
malformed or unprocessable update is logged and answered 200; only a database outage answers
503, because a retry will then succeed (the engine dedupes by update id).

`POST /api/v1/telegram/links` (bearer `MENTORBOT_API_TOKEN`) makes a new single-use link on
every call: 404 for an LMS id no student has, 503 when the bot's username is unknown.
"""

from __future__ import annotations

import json
import secrets
from typing import Annotated

import structlog
from fastapi import APIRouter, Header, HTTPException, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.exc import OperationalError

from bot.channels.telegram_links import LinkMaker, LinksUnavailable, UnknownStudent
from bot.channels.telegram_updates import UpdateProcessor
from bot.settings import Settings

log = structlog.get_logger("mentorbot.telegram.webhook")
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
WEBHOOK_PATH = "/telegram/webhook"


class NewLink(BaseModel):
    lms_id: Annotated[str, Field(min_length=1, max_length=64)]


def _matches(given: str | None, expected: str | None) -> bool:
    if not given or not expected:
        return False
    return secrets.compare_digest(given.encode(), expected.encode())


def telegram_router(settings: Settings, processor: UpdateProcessor, links: LinkMaker) -> APIRouter:
    api = APIRouter()
    secret = settings.telegram.webhook_secret
    expected = secret.get_secret_value() if secret else None
    token = settings.api_token.get_secret_value() if settings.api_token else None

    @api.post(WEBHOOK_PATH, include_in_schema=False)
    async def webhook(request: Request) -> Response:
        if not _matches(request.headers.get(SECRET_HEADER), expected):
            return Response(status_code=401)
        try:
            raw = json.loads(await request.body())
        except ValueError:
            log.warning("telegram.update_malformed", reason="not JSON")
            return Response(status_code=200)
        try:
            await processor.process_raw(raw)
        except OperationalError:
            log.exception("telegram.database_unavailable")
            return Response(status_code=503)
        except Exception:
            log.exception("telegram.update_failed")
        return Response(status_code=200)

    @api.post("/api/v1/telegram/links")
    async def create_link(
        body: NewLink, authorization: Annotated[str | None, Header()] = None
    ) -> dict[str, str]:
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not _matches(given.strip(), token):
            raise HTTPException(401, "a valid bearer token is needed")
        try:
            link = await links.link(body.lms_id)
        except LinksUnavailable as exc:
            raise HTTPException(503, str(exc)) from exc
        except UnknownStudent as exc:
            raise HTTPException(404, str(exc)) from exc
        return {"lms_id": link.lms_id, "token": link.token, "url": link.url,
                "expires_at": link.expires_at.isoformat()}  # fmt: skip

    return api
