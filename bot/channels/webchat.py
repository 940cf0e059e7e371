"""The local web chat: a real page at /chat where a person chats as a student."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse
from pydantic import AwareDatetime, BaseModel, Field

from bot.channels.base import NOT_STARTED, Begin, ChannelParts, SendResult
from bot.i18n import best_language
from bot.messages import Attachment, Channel, Inbound, Outbound, start_payload
from storage.demo import demo_people
from storage.outbox import reply_from_row, sent_since
from storage.people import link_identity

PAGE = Path(__file__).with_name("webchat.html")
MAX_TEXT = 100_000


class WebchatSender:
    """Web chat replies are 'sent' once recorded: the page fetches them by id."""

    name = Channel.WEBCHAT

    async def send(self, outbound: Outbound, begin: Begin) -> SendResult:
        if not await begin():
            return NOT_STARTED
        return SendResult(ok=True, external_id=f"web-{outbound.delivery_id}")


class NewSession(BaseModel):
    person_id: int | None = None
    language: str | None = Field(default=None, max_length=35)


class Said(BaseModel):
    address: Annotated[str, Field(min_length=8, max_length=64)]
    message_id: Annotated[str, Field(min_length=1, max_length=64)]
    text: Annotated[str, Field(max_length=MAX_TEXT)] = ""
    choice_id: Annotated[str | None, Field(max_length=64)] = None


def webchat_parts(runtime: Any) -> ChannelParts:
    return ChannelParts(sender=WebchatSender(), router=router(runtime))


def router(runtime: Any) -> APIRouter:
    api = APIRouter()

    @api.get("/chat", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> str:
        return PAGE.read_text(encoding="utf-8")

    @api.get("/chat/api/info")
    async def info() -> dict[str, Any]:
        people = await runtime.db.run(demo_people) if runtime.demo_chat else []
        return {"channels": runtime.channel_status(), "people": people}

    @api.post("/chat/api/sessions")
    async def new_session(body: NewSession) -> dict[str, str]:
        address = "web-" + secrets.token_urlsafe(16)
        if body.person_id is not None:
            if not runtime.demo_chat:
                raise HTTPException(403, "choosing a person is only for the demo database")
            person_id = body.person_id
            known = await runtime.db.run(lambda s: _is_demo_person(s, person_id))
            if not known:
                raise HTTPException(404, f"no demo person with id {person_id}")
            await runtime.db.run(lambda s: _claim(s, person_id, address, runtime.clock.now()))
        return {"address": address}

    @api.post("/chat/api/messages")
    async def said(body: Said, request: Request) -> dict[str, Any]:
        inbound = Inbound(
            Channel.WEBCHAT,
            body.address,
            f"{body.address}:{body.message_id}",
            body.text,
            choice_id=body.choice_id,
            link_token=start_payload(body.text),  # "/start <token>": an invitation or a link
            locale_hint=best_language(request.headers.get("accept-language", ""),
                                      runtime.translator.supported),
        )
        handled = await runtime.engine.handle(inbound)
        await runtime.dispatcher.deliver(handled.outbound)  # others' too: a mentor, a relay
        mine = [o for o in handled.outbound
                if o.channel == Channel.WEBCHAT and o.address == body.address]  # fmt: skip
        return {"duplicate": handled.duplicate, "messages": [_json(o) for o in mine]}

    @api.get("/chat/api/messages")
    async def inbox(address: str, since: AwareDatetime | None = None) -> dict[str, Any]:
        """Messages sent to this page's address from `since` on (the page drops repeats)."""
        rows = await runtime.db.run(lambda s: sent_since(s, Channel.WEBCHAT, address, since))
        return {
            "messages": [
                {
                    "id": r.id,
                    "text": r.text,
                    "choices": [c for c in r.choices if c["id"] != "__request_phone__"],
                    "sent_at": r.sent_at.isoformat() if r.sent_at else None,
                    "attachment": _download(reply_from_row(r.text, r.choices, r.meta).attachment),
                }
                for r in rows
            ]
        }

    return api


def _is_demo_person(session: Any, person_id: int) -> bool:
    return any(p["id"] == person_id for p in demo_people(session))


def _claim(session: Any, person_id: int, address: str, now: Any) -> None:
    link_identity(session, person_id, Channel.WEBCHAT, address, now)


def _json(item: Outbound) -> dict[str, Any]:
    choices = [{"id": c.id, "label": c.label} for c in item.reply.choices]
    return {
        "id": item.delivery_id,
        "text": item.reply.text,
        "choices": choices,
        "request_phone": item.reply.request_phone,
        "attachment": _download(item.reply.attachment),
    }


def _download(file: Attachment | None) -> dict[str, str] | None:
    """The page offers the file as a download link (a data: URL: nothing is kept server-side)."""
    if file is None:
        return None
    data = base64.b64encode(file.data).decode()
    return {"name": file.name, "media_type": file.media_type,
            "url": f"data:{file.media_type};base64,{data}"}  # fmt: skip
