"""The SMS channel on Twilio: webhooks in, TwilioSender out, the client's lifecycle.

Inbound durability: the webhook stores the message (keyed by MessageSid) *before* it answers,
then answers empty TwiML at once and runs the turn in a background task. If storing fails
the answer is 5xx and Twilio retries; if the process dies after answering, the stored row is
picked up by the inbox sweep. A replayed MessageSid is stored once and handled once.

With Twilio's Advanced Opt-Out on, a keyword's webhook carries `OptOutType` (STOP, START, HELP):
Twilio has already answered the person, so we record the opt-out or opt-in and send no second
confirmation or help text. Such a message is handled *before* the webhook answers (the turn's
commit is then what makes it durable, and its inbox row is stored already processed): the fact
that Twilio answered lives only in this request, and the sweep, which could not know it, never
sees these rows. Such a turn is short (a keyword is answered before any flow; a YES that
answers our question is one ordinary step), so answering after it costs little.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

import structlog
from fastapi import APIRouter, BackgroundTasks, HTTPException, Request
from fastapi.responses import PlainTextResponse, Response
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from bot.channels.base import ChannelParts
from bot.channels.sms_sender import TwilioSender
from bot.links import make_link_token, read_link_token
from bot.messages import Channel, Inbound, Outbound
from bot.shared_pacing import SharedSlots
from handlers.keywords import Keyword
from storage import sms as sms_store
from storage.tables import Delivery

log = structlog.get_logger("mentorbot.sms")
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
# Twilio's OptOutType -> the keyword it answered.
ANSWERED_BY_TWILIO = {"STOP": Keyword.OPT_OUT, "START": Keyword.OPT_IN, "HELP": Keyword.HELP}


def keyword_answered(form: dict[str, str]) -> Keyword | None:
    return ANSWERED_BY_TWILIO.get(form.get("OptOutType", "").strip().upper())


def twiml() -> Response:
    return Response(EMPTY_TWIML, media_type="text/xml")


class SmsChannel:
    """Owns the twilio client (made in the app's lifespan) and the inbound pipeline."""

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        settings = runtime.settings
        self._tw = settings.twilio
        self._public_url = settings.public_url.rstrip("/")
        self._secret = self._tw.auth_token.get_secret_value()
        self.validator = RequestValidator(self._secret)
        # On PostgreSQL several processes may send from this number: its rate is shared.
        shared = SharedSlots(runtime.db) if runtime.db.dialect == "postgresql" else None
        self.sender = TwilioSender(
            settings, runtime.translator, runtime.clock, self._carrier_opt_out,
            self.full_text_link, shared,
        )  # fmt: skip
        self._http: AsyncTwilioHttpClient | None = None
        self._sweeper: asyncio.Task[None] | None = None

    # -- lifecycle (a Service) -------------------------------------------------------------

    async def start(self) -> None:
        self._http = AsyncTwilioHttpClient(timeout=self._tw.timeout_seconds)
        client = Client(self._tw.account_sid, self._secret, http_client=self._http)
        client.region = client.edge = None  # TWILIO_REGION/EDGE would rewrite the host
        client.api.base_url = self._tw.api_base.rstrip("/")
        self.sender.client = client
        self._sweeper = asyncio.create_task(self._sweep_forever())

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        self.sender.client = None
        if self._http is not None:
            await self._http.close()
            self._http = None

    # -- webhooks --------------------------------------------------------------------------

    async def verified_form(self, request: Request) -> dict[str, str]:
        """The form, if X-Twilio-Signature matches our *public* URL; else 403."""
        form = {key: str(value) for key, value in (await request.form()).items()}
        query = f"?{request.url.query}" if request.url.query else ""
        url = self._public_url + request.url.path + query
        signature = request.headers.get("X-Twilio-Signature", "")
        if not signature or not self.validator.validate(url, form, signature):
            log.warning("sms.bad_signature", path=request.url.path)
            raise HTTPException(403, "invalid signature")
        return form

    async def accept_inbound(self, form: dict[str, str]) -> bool:
        sid, sender = form.get("MessageSid", ""), form.get("From", "")
        if not sid or not sender:
            raise HTTPException(400, "MessageSid and From are required")
        now = self.runtime.clock.now()
        to, body = form.get("To", ""), form.get("Body", "")
        return await self.runtime.db.run(
            lambda s: sms_store.store_inbound(s, sid, sender, to, body, now)
        )

    async def process(self, sid: str) -> None:
        """Run the turn for a stored inbound message and send the replies."""
        row = await self.runtime.db.run(lambda s: sms_store.inbound_row(s, sid))
        if row is None or row.processed_at is not None:
            return
        inbound = Inbound(Channel.SMS, row.from_number, sid, row.body)
        handled = await self.runtime.engine.handle(inbound)
        now = self.runtime.clock.now()
        await self.runtime.db.run(lambda s: sms_store.mark_processed(s, sid, now))
        await self.deliver(handled.outbound)

    async def process_answered(self, form: dict[str, str], keyword: Keyword) -> list[Outbound]:
        """A keyword Twilio already answered: the turn runs now, then the inbox row is stored
        as processed. A replay finds the turn done (the engine dedupes by MessageSid)."""
        sid, sender = form.get("MessageSid", ""), form.get("From", "")
        if not sid or not sender:
            raise HTTPException(400, "MessageSid and From are required")
        to, body = form.get("To", ""), form.get("Body", "")
        inbound = Inbound(Channel.SMS, sender, sid, body, keyword_answered=keyword.value)
        handled = await self.runtime.engine.handle(inbound)
        now = self.runtime.clock.now()

        def store(session: Any) -> None:
            sms_store.store_inbound(session, sid, sender, to, body, now)
            sms_store.mark_processed(session, sid, now)

        await self.runtime.db.run(store)
        return handled.outbound

    async def deliver(self, outbound: list[Outbound]) -> None:
        await self.runtime.dispatcher.deliver(outbound)

    async def apply_status(self, form: dict[str, str], delivery: str | None) -> None:
        code = form.get("ErrorCode", "")
        now = self.runtime.clock.now()
        await self.runtime.db.run(
            lambda s: sms_store.apply_status(
                s,
                sid=form.get("MessageSid", ""),
                status=form.get("MessageStatus", ""),
                error_code=int(code) if code.isdigit() else None,
                delivery_id=int(delivery) if delivery and delivery.isdigit() else None,
                now=now,
            )
        )

    # -- helpers ---------------------------------------------------------------------------

    async def _carrier_opt_out(self, phone: str) -> None:
        now = self.runtime.clock.now()
        await self.runtime.db.run(
            lambda s: sms_store.opt_out(s, phone, now, source="carrier_21610")
        )

    def full_text_link(self, delivery_id: int) -> str:
        return f"{self._public_url}/sms/m/{make_link_token(str(delivery_id), self._secret)}"

    async def full_text(self, token: str) -> str | None:
        delivery_id = read_link_token(token, self._secret)
        if delivery_id is None or not delivery_id.isdigit():
            return None
        row = await self.runtime.db.run(lambda s: s.get(Delivery, int(delivery_id)))
        return row.text if row is not None and row.channel == Channel.SMS else None

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self._tw.inbox_sweep_seconds)
            try:
                await self.sweep()
            except Exception:
                log.exception("sms.sweep_failed")

    async def sweep(self) -> int:
        """Handle inbound rows whose background task never finished (a crash, a restart)."""
        cutoff = self.runtime.clock.now() - timedelta(seconds=self._tw.inbox_sweep_seconds)
        sids = await self.runtime.db.run(lambda s: sms_store.unprocessed_sids(s, cutoff))
        for sid in sids:
            await self.process(sid)
        return len(sids)


def router(channel: SmsChannel) -> APIRouter:
    api = APIRouter(tags=["sms"])

    @api.post("/sms/inbound", include_in_schema=False)
    async def inbound(request: Request, background: BackgroundTasks) -> Response:
        form = await channel.verified_form(request)
        answered = keyword_answered(form)
        if answered is not None:
            # Replies a flow may still give (YES answering one of our questions) go later.
            background.add_task(channel.deliver, await channel.process_answered(form, answered))
        elif await channel.accept_inbound(form):
            background.add_task(channel.process, form["MessageSid"])
        return twiml()

    @api.post("/sms/status", include_in_schema=False)
    async def status(request: Request) -> Response:
        form = await channel.verified_form(request)
        await channel.apply_status(form, request.query_params.get("d"))
        return twiml()

    @api.get("/sms/m/{token}", response_class=PlainTextResponse, include_in_schema=False)
    async def full_text(token: str) -> str:
        text = await channel.full_text(token)
        if text is None:
            raise HTTPException(404, "not found")
        return text

    return api


def sms_parts(runtime: Any) -> ChannelParts:
    channel = SmsChannel(runtime)
    runtime.extras["sms"] = channel
    return ChannelParts(sender=channel.sender, router=router(channel), service=channel)
