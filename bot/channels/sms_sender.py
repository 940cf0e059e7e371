"""Sending SMS with twilio-python: paced per sender, errors mapped, never sent twice.

A POST whose answer is lost (timeout, dropped connection, 5xx) may have created the message,
so it is never blindly repeated: we list the recipient's recent messages and look for ours
(same body, created since we tried). Found: it was sent. Not found after a 5xx: Twilio
answered, so nothing was created and a later retry is safe. Not found after a timeout (or the
lookup failed): the request may still land, so the delivery is retried later *in doubt*, and
that attempt looks again before it creates anything. A delivery whose process died during its
call comes back in doubt too (`storage/claims.py`).
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import structlog
from twilio.base.exceptions import TwilioException, TwilioRestException

from bot.channels.base import NOT_STARTED, Begin, SendResult
from bot.channels.sms_render import SmsText, render_sms
from bot.clock import Clock
from bot.i18n import Translator
from bot.messages import Outbound
from bot.settings import Settings
from bot.shared_pacing import SharedSlots
from scheduler.policy import PROACTIVE_KINDS
from scheduler.quiet_hours import candidate_zones, seconds_left
from storage.claims import IN_DOUBT

log = structlog.get_logger("mentorbot.sms")
MAX_VALIDITY = 36000
INVALID_NUMBER_CODES = frozenset({21211, 21614})
THROTTLED_CODES = frozenset({20429, 21611})
LOOKUP_SLACK = timedelta(minutes=2)  # clock skew between us and Twilio's date_created
LOOKUP_MOST = 2_000  # messages a lookup reads at most (pages of 50, newest first)


class Pacer:
    """Smooth pacing: one segment every 1/rate seconds, in the order callers arrive.

    A caller that wakes up more than one interval after its slot (the event loop stalled)
    gives the slot up and takes the next free one: callers that stalled together would
    otherwise all go at once, a burst over the sender's rate."""

    def __init__(
        self,
        rate_per_second: float,
        *,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate_per_second <= 0:
            raise ValueError("rate_per_second must be positive")
        self._interval = 1.0 / rate_per_second
        self._next = -math.inf
        self._clock = clock
        self._sleep = sleep

    async def wait(self, segments: int = 1) -> None:
        clock = self._clock or asyncio.get_running_loop().time
        while True:
            now = clock()
            slot = max(self._next, now)
            self._next = slot + segments * self._interval
            if slot > now:
                await self._sleep(slot - now)
            if clock() - slot <= self._interval:
                return


class TwilioSender:
    name = "sms"

    def __init__(
        self,
        settings: Settings,
        translator: Translator,
        clock: Clock,
        on_opted_out: Callable[[str], Awaitable[None]],
        link_for: Callable[[int], str],
        shared: SharedSlots | None = None,
    ) -> None:
        self._tw = settings.twilio
        self._shared = shared  # PostgreSQL: the sender's rate holds across processes
        self._rate_key = f"sms:{self._tw.messaging_service_sid or self._tw.from_number}"
        self._public_url = settings.public_url.rstrip("/")
        self._translator = translator
        self._clock = clock
        self._on_opted_out = on_opted_out
        self._link_for = link_for
        self._window = self._tw.send_window()
        self._pacer = Pacer(self._tw.rate_per_second)
        self.client: Any = None  # a twilio Client, set by the SMS service inside the loop

    async def send(self, outbound: Outbound, begin: Begin) -> SendResult:
        if self.client is None:
            return SendResult(ok=False, error="twilio client not started", retry=True)
        t = self._translator.for_locale(_str(outbound.meta.get("locale")))
        link = self._link_for(outbound.delivery_id)
        text = render_sms(outbound.reply, t, link, outbound.kind)
        validity = self._validity(outbound)
        if validity <= 0:
            return SendResult(ok=False, error="send window closed", retry=True)
        await self._pacer.wait(text.segments)
        if self._shared is not None:
            await self._shared.wait([(self._rate_key, text.segments / self._tw.rate_per_second)])
        if not await begin():
            return NOT_STARTED
        result = await self._looked_up(outbound, text.body)
        if result is None:
            result = await self._create(outbound, text, validity)
        return replace(result, segments=text.segments, encoding=text.encoding)

    def _validity(self, outbound: Outbound) -> int:
        """Seconds Twilio may keep it queued: a proactive text never lands after the window."""
        if outbound.kind not in PROACTIVE_KINDS:
            return self._tw.reply_validity_seconds
        zones = candidate_zones(outbound.address, _str(outbound.meta.get("time_zone")))
        if zones is None:
            return 0
        return min(seconds_left(self._clock.now(), zones, self._window), MAX_VALIDITY)

    def _params(self, outbound: Outbound, text: SmsText, validity: int) -> dict[str, Any]:
        params: dict[str, Any] = {
            "to": outbound.address,
            "body": text.body,
            "validity_period": validity,
            "status_callback": f"{self._public_url}/sms/status?d={outbound.delivery_id}",
        }
        if self._tw.messaging_service_sid:
            params["messaging_service_sid"] = self._tw.messaging_service_sid
        else:
            params["from_"] = self._tw.from_number
        return params

    async def _looked_up(self, outbound: Outbound, body: str) -> SendResult | None:
        """A delivery in doubt: sent already (found), or still in doubt (the lookup failed);
        None when it was not created and may be sent now."""
        doubt = _in_doubt_since(outbound)
        if doubt is None:
            return None
        found = await self._find_or(outbound, body, doubt, retry=None)
        return found if found.ok or found.in_doubt else None

    async def _create(self, outbound: Outbound, text: SmsText, validity: int) -> SendResult:
        params = self._params(outbound, text, validity)
        for attempt in range(self._tw.max_throttle_retries + 1):
            started = datetime.now(UTC)  # Twilio's clock, not the injected one
            try:
                created = await self._call(self.client.messages.create_async(**params))
                return SendResult(ok=True, external_id=created.sid)
            except TwilioRestException as exc:
                if exc.status == 429 or exc.code in THROTTLED_CODES:
                    await self._back_off(attempt)
                    continue
                if exc.status >= 500:
                    return await self._find_or(outbound, text.body, started, retry=True)
                return await self._refused(outbound, exc)
            except (TimeoutError, aiohttp.ClientError):
                return await self._find_or(outbound, text.body, started, retry=False)
            except TwilioException as exc:
                log.error("sms.send_error", delivery=outbound.delivery_id, error=repr(exc))
                return SendResult(ok=False, error=repr(exc)[:200], final_status="review")
        return SendResult(ok=False, error="twilio 429: still throttled", retry=True)

    async def _call(self, awaitable: Awaitable[Any]) -> Any:
        return await asyncio.wait_for(awaitable, self._tw.timeout_seconds)

    async def _back_off(self, attempt: int) -> None:
        delay = self._tw.backoff_seconds * (2**attempt)
        # Jitter, so throttled senders do not all come back at the same instant.
        await asyncio.sleep(delay * random.uniform(0.5, 1.0))

    async def _refused(self, outbound: Outbound, exc: TwilioRestException) -> SendResult:
        error = f"twilio {exc.code}: {exc.msg}"[:200]
        log.info("sms.refused", delivery=outbound.delivery_id, code=exc.code, status=exc.status)
        if exc.code == 21610:
            await self._on_opted_out(outbound.address)
            return SendResult(ok=False, error=error, final_status="suppressed")
        if exc.code in INVALID_NUMBER_CODES:
            return SendResult(ok=False, error=error, unreachable=True)
        return SendResult(ok=False, error=error)

    async def _find_or(
        self, outbound: Outbound, body: str, started: datetime, *, retry: bool | None
    ) -> SendResult:
        """The answer was lost: did Twilio create it anyway? Look before anything is resent.

        Not found: `retry` True (Twilio answered 5xx: nothing was created) retries; False (a
        timeout: it may still land) retries in doubt; None (a row already in doubt, looked up
        before its next call) says "not created", and the caller sends it now."""
        try:
            sid = await self._lookup(outbound.address, body, started)
        except (TwilioException, TimeoutError, aiohttp.ClientError) as exc:
            log.warning("sms.lookup_failed", delivery=outbound.delivery_id, error=repr(exc))
            return SendResult(ok=False, error="outcome unknown", retry=True, in_doubt=True)
        if sid is not None:
            log.info("sms.found_after_lost_answer", delivery=outbound.delivery_id, sid=sid)
            return SendResult(ok=True, external_id=sid)
        if retry is False:
            error = "timeout, outcome unknown"
            return SendResult(ok=False, error=error, retry=True, in_doubt=True)
        return SendResult(ok=False, error="twilio 5xx, not created", retry=True)

    async def _lookup(self, to: str, body: str, started: datetime) -> str | None:
        """Ours among the number's messages created since we tried: Twilio lists them newest
        first, so the pages are read until one is older than that (not a fixed few: after a
        crash many later messages may have gone to the same number)."""
        filters: dict[str, Any] = {"to": to, "page_size": 50, "limit": LOOKUP_MOST}
        if self._tw.from_number and not self._tw.messaging_service_sid:
            filters["from_"] = self._tw.from_number
        since = started - LOOKUP_SLACK

        async def search() -> str | None:
            async for message in await self.client.messages.stream_async(**filters):
                created = message.date_created
                if created is not None and created < since:
                    return None
                if message.body == body:
                    return str(message.sid)
            return None

        return await self._call(search())


def _in_doubt_since(outbound: Outbound) -> datetime | None:
    since = outbound.meta.get(IN_DOUBT)
    return datetime.fromisoformat(since) if isinstance(since, str) else None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
