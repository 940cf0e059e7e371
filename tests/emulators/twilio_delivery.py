"""After create: per-sender paced queues, the carrier's verdict, signed webhooks to our app."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import aiohttp
from twilio.request_validator import RequestValidator

from tests.emulators.twilio_messages import EmulatedMessage, status_callback_params

SignatureMode = Literal["valid", "missing", "wrong"]
CALLBACK_VARIANTS = (
    "callback_duplicate",
    "callback_out_of_order",
    "callback_unsigned",
    "callback_wrong_signature",
)
_SIGNATURE_FOR_VARIANT: dict[str, SignatureMode] = {
    "callback_unsigned": "missing",
    "callback_wrong_signature": "wrong",
}
Report = tuple[str, int | None]  # (MessageStatus, ErrorCode)


@dataclass
class _Lane:
    pending: deque[EmulatedMessage] = field(default_factory=deque)
    segments: int = 0  # of the pending messages
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    next_free: float = 0.0
    task: asyncio.Task[None] | None = None


class PacedQueues:
    """One FIFO per sender, drained at `rate_of(sender)` (> 0) segments per second.

    Each dequeue is scheduled at an absolute due time (previous due + segments / rate), so
    timer jitter never accumulates into drift. A message whose validity period runs out
    before its due time is handed to `on_expire` without using a sending slot.
    """

    def __init__(
        self,
        rate_of: Callable[[str], float],
        on_send: Callable[[EmulatedMessage], None],
        on_expire: Callable[[EmulatedMessage], None],
    ) -> None:
        self._rate_of = rate_of
        self._on_send = on_send
        self._on_expire = on_expire
        self._lanes: dict[str, _Lane] = {}

    def push(self, message: EmulatedMessage) -> None:
        lane = self._lanes.get(message.sender)
        if lane is None:
            lane = self._lanes[message.sender] = _Lane()
            lane.task = asyncio.create_task(self._drain(message.sender, lane))
        lane.pending.append(message)
        lane.segments += message.segments
        lane.wakeup.set()

    def waiting(self, sender: str) -> int:
        """Segments queued for `sender` and not sent (nor expired) yet."""
        lane = self._lanes.get(sender)
        return lane.segments if lane else 0

    async def close(self) -> None:
        tasks = [lane.task for lane in self._lanes.values() if lane.task]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._lanes.clear()

    async def _drain(self, sender: str, lane: _Lane) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not lane.pending:
                lane.wakeup.clear()
                await lane.wakeup.wait()
                continue
            message = lane.pending[0]
            due = max(lane.next_free, loop.time())
            expires = message.queued_at + message.validity_period
            if expires < due:
                await asyncio.sleep(max(0.0, expires - loop.time()))
                lane.pending.popleft()
                lane.segments -= message.segments
                self._on_expire(message)
                continue
            await asyncio.sleep(max(0.0, due - loop.time()))
            lane.pending.popleft()
            lane.segments -= message.segments
            lane.next_free = due + message.segments / self._rate_of(sender)
            self._on_send(message)


@dataclass
class PostedWebhook:
    """One webhook request the emulator made, and what our app answered (None: no answer)."""

    kind: Literal["status", "inbound"]
    url: str
    signed_url: str
    params: dict[str, str]
    signature: SignatureMode
    http_status: int | None


class WebhookPoster:
    """Signs like Twilio (X-Twilio-Signature over the public URL) and posts to the local one.

    `public_url_map` maps public prefixes (what Twilio is configured with, and what is
    signed) to local prefixes (where the request physically goes), e.g.
    {"https://public.example": "http://127.0.0.1:8000"}. A URL given in either form works.
    """

    def __init__(self, auth_token: str, public_url_map: dict[str, str] | None = None) -> None:
        self._validator = RequestValidator(auth_token)
        self._wrong_validator = RequestValidator(auth_token + "-wrong")
        self._map = dict(public_url_map or {})
        self._session: aiohttp.ClientSession | None = None
        self.posted: list[PostedWebhook] = []

    def resolve(self, url: str) -> tuple[str, str]:
        """Return (signed_url, post_url) for a callback URL in public or local form."""
        for public, local in self._map.items():
            if url.startswith(public):
                return url, local + url[len(public) :]
            if url.startswith(local):
                return public + url[len(local) :], url
        return url, url

    async def start(self) -> None:
        timeout = aiohttp.ClientTimeout(total=15, sock_connect=5)  # Twilio's webhook limits
        self._session = aiohttp.ClientSession(timeout=timeout)

    async def close(self) -> None:
        if self._session:
            await self._session.close()
            self._session = None

    def headers_for(self, signed_url: str, params: dict[str, str], mode: SignatureMode) -> dict:
        headers = {"User-Agent": "TwilioProxy/1.1", "I-Twilio-Idempotency-Token": uuid.uuid4().hex}
        if mode != "missing":
            validator = self._validator if mode == "valid" else self._wrong_validator
            headers["X-Twilio-Signature"] = validator.compute_signature(signed_url, params)
        return headers

    async def post(
        self,
        kind: Literal["status", "inbound"],
        *,
        post_url: str,
        signed_url: str,
        params: dict[str, str],
        signature: SignatureMode = "valid",
    ) -> PostedWebhook:
        assert self._session is not None, "emulator not started"
        headers = self.headers_for(signed_url, params, signature)
        status: int | None
        try:
            async with self._session.post(post_url, data=params, headers=headers) as response:
                await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError):
            status = None
        record = PostedWebhook(kind, post_url, signed_url, dict(params), signature, status)
        self.posted.append(record)
        return record


class Carrier:
    """What happens once a message leaves its queue: sent, then the carrier's verdict.

    Each transition is recorded on the message; when it has a StatusCallback, the matching
    signed callbacks are posted (one task per message, so its callbacks stay in order
    unless a `callback_*` variant from `take_fault` reorders, duplicates or mis-signs them).
    """

    def __init__(
        self,
        webhooks: WebhookPoster,
        take_fault: Callable[..., str | None],
        notify: Callable[[], None],
        *,
        deliver: bool = True,
    ) -> None:
        self.deliver = deliver
        self.delivery_delay = 0.0  # seconds between "sent" and the final status
        self.service_sender = "+15005550006"  # the number a Messaging Service "picks"
        self.failing: dict[str, tuple[str, int]] = {}  # To -> (final status, ErrorCode)
        self._webhooks, self._take_fault, self._notify = webhooks, take_fault, notify
        self._tasks: set[asyncio.Task[None]] = set()

    def on_send(self, message: EmulatedMessage) -> None:
        now = asyncio.get_running_loop().time()
        if message.status == "accepted":
            message.from_ = message.from_ or self.service_sender
            message.set_status("queued", now)
        message.sent_at, message.date_sent = now, datetime.now(UTC)
        message.set_status("sending", now)
        message.set_status("sent", now)
        verdict = self.failing.get(message.to) or (("delivered", 0) if self.deliver else None)
        self._spawn(self._report_delivery(message, verdict))
        self._notify()

    def on_expire(self, message: EmulatedMessage) -> None:
        self.fail(message, 30036)

    def fail(self, message: EmulatedMessage, code: int) -> None:
        """Failed before it was sent: 30036 validity period expired, 30001 queue overflow."""
        message.set_status("failed", asyncio.get_running_loop().time(), code)
        self._spawn(self.post_reports(message, [("failed", code)], None))
        self._notify()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def post_reports(
        self, message: EmulatedMessage, reports: list[Report], variant: str | None
    ) -> None:
        if not message.status_callback:
            return
        signed, post = self._webhooks.resolve(message.status_callback)
        mode = _SIGNATURE_FOR_VARIANT.get(variant or "", "valid")
        for status, code in reports:
            params = status_callback_params(message, status, code)
            for _ in range(2 if variant == "callback_duplicate" else 1):
                await self._webhooks.post(
                    "status", post_url=post, signed_url=signed, params=params, signature=mode
                )
                self._notify()

    async def _report_delivery(
        self, message: EmulatedMessage, verdict: tuple[str, int] | None
    ) -> None:
        variant = self._take_fault(*CALLBACK_VARIANTS)
        held: list[Report] = [("sent", None)]
        if variant != "callback_out_of_order":
            await self.post_reports(message, held, variant)
            held = []
        if verdict is not None:
            await asyncio.sleep(self.delivery_delay)
            status, code = verdict[0], verdict[1] or None
            message.set_status(status, asyncio.get_running_loop().time(), code)
            self._notify()
            await self.post_reports(message, [(status, code)], variant)
        await self.post_reports(message, held, variant)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
