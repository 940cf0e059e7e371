"""A local Twilio Messaging emulator: a real HTTP server speaking the v2010 Messages API.

Pointing twilio-python 9.13 at it: there is no base-URL argument, but the client creates
its `api` domain once and caches it, so setting `client.api.base_url` sticks for
`client.messages` (= `client.api.account.messages`), sync and async alike:

    client = Client(emu.account_sid, emu.auth_token, http_client=TwilioHttpClient(timeout=10))
    client.api.base_url = emu.base_url

    http = AsyncTwilioHttpClient()  # builds an aiohttp session: inside a running loop only
    client = Client(emu.account_sid, emu.auth_token, http_client=http)
    client.api.base_url = emu.base_url
    await client.messages.create_async(...)  # then: await http.close()

Unset TWILIO_REGION and TWILIO_EDGE first: `Client.get_hostname` rewrites the host when
either is set (127.0.0.1 becomes 127.ie1.0.1).

Behaviour: Basic auth (401/20003); Twilio's test-credential magic numbers (see twilio_http;
any other From is accepted, as with live credentials); per-sender queues drained at
`rate_per_sender` segments/s by due time, each holding `queue_seconds` of sending at most
(Twilio: 4 hours; a create beyond it fails with 30001); ValidityPeriod expiry -> failed/30036;
signed status callbacks (sent, then delivered, or the `fail_delivery` verdict with ErrorCode).
Times in `EmulatedMessage.history` and `.sent_at` are event-loop time (`loop.time()`).
With `advanced_opt_out=True` (a Messaging Service with Advanced Opt-Out), an inbound keyword
(`opt_out_keywords`, Twilio's defaults unless changed) is answered by "Twilio" itself
(`keyword_replies`), opts the number out or back in (creates to it then fail with 21610), and
the webhook carries `OptOutType` (STOP, START or HELP).

Standalone: python -m tests.emulators.twilio_api --port 8082 [--rate 50]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections import Counter
from collections.abc import Callable
from typing import Literal

from aiohttp import web

from tests.emulators.twilio_delivery import (
    Carrier,
    PacedQueues,
    PostedWebhook,
    SignatureMode,
    WebhookPoster,
)
from tests.emulators.twilio_http import MessagesApi
from tests.emulators.twilio_messages import (
    DEFAULT_KEYWORD_REPLIES,
    DEFAULT_KEYWORDS,
    EmulatedMessage,
    inbound_params,
    new_sid,
    opt_out_type,
    status_callback_params,
)

FaultKind = Literal[
    "429",  # HTTP 429, code 20429, nothing created
    "500",  # HTTP 500, code 20500, nothing created
    "21610",  # the next create is refused as if the recipient had opted out
    "timeout_after_create",  # created and queued; answer held `hold_seconds`, then dropped
    "drop_after_create",  # created and queued; connection closed without an answer
    "callback_duplicate",  # next dequeued message: every status callback posted twice
    "callback_out_of_order",  # ... final status posted before "sent"
    "callback_unsigned",  # ... no X-Twilio-Signature header
    "callback_wrong_signature",  # ... signed with another token
]


class TwilioEmulator:
    """Twilio's Messages API on loopback, plus controls and observations for tests."""

    def __init__(
        self,
        *,
        account_sid: str = "AC" + "1" * 32,
        auth_token: str = "test-auth-token",
        rate_per_sender: float = 1.0,
        deliver: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
        public_url_map: dict[str, str] | None = None,
        advanced_opt_out: bool = False,
    ) -> None:
        self.account_sid, self.auth_token = account_sid, auth_token
        self.advanced_opt_out = advanced_opt_out
        self.opt_out_keywords = dict(DEFAULT_KEYWORDS)  # OptOutType -> words (upper case)
        self.keyword_replies: list[tuple[str, str]] = []  # (to, body) Twilio sent itself
        self.rate_per_sender = rate_per_sender  # segments/s; `sender_rates` overrides it
        self.sender_rates: dict[str, float] = {}
        # A sender's queue holds this many seconds of sending at its rate (Twilio: 4 hours);
        # a create beyond that is accepted and then fails with 30001, queue overflow.
        self.queue_seconds = 4 * 3600.0
        self.hold_seconds = 30.0  # how long timeout_after_create holds the answer
        self.base_url = ""
        self.messages: list[EmulatedMessage] = []
        self.counters: Counter[str] = Counter()
        self._rate_debt: dict[str, float] = {}  # per sender: when its sends so far are paid
        self.released = asyncio.Event()  # set on stop: frees answers held by a fault
        self._host, self._port = host, port
        self._by_sid: dict[str, EmulatedMessage] = {}
        self._opted_out: set[str] = set()
        self._invalid: set[str] = set()
        self._faults: Counter[str] = Counter()
        self._changed = asyncio.Event()
        self._webhooks = WebhookPoster(auth_token, public_url_map)
        # carrier: deliver, delivery_delay, service_sender are tunable there
        self.carrier = Carrier(self._webhooks, self.take_fault, self._notify, deliver=deliver)
        self._queues = PacedQueues(self._rate_of, self.carrier.on_send, self.carrier.on_expire)
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = MessagesApi(self).app()
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, self._host, self._port).start()
        self.base_url = f"http://{self._host}:{self._runner.addresses[0][1]}"
        await self._webhooks.start()

    async def stop(self) -> None:
        self.released.set()
        await self._queues.close()
        await self.carrier.close()
        if self._runner:
            await self._runner.cleanup()
            self._runner = None
        await self._webhooks.close()

    async def __aenter__(self) -> TwilioEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # -- test controls ---------------------------------------------------------------------

    @property
    def deliver(self) -> bool:
        """False: messages stop at "sent" (no delivery verdict, no final callback)."""
        return self.carrier.deliver

    @deliver.setter
    def deliver(self, value: bool) -> None:
        self.carrier.deliver = value

    def opt_out(self, number: str) -> None:
        """Creates to `number` now fail with 21610 (the recipient replied STOP)."""
        self._opted_out.add(number)

    def opt_in(self, number: str) -> None:
        self._opted_out.discard(number)

    def mark_invalid(self, number: str) -> None:
        """Creates to `number` now fail with 21211."""
        self._invalid.add(number)

    def fail_delivery(
        self, number: str, error_code: int = 30006, status: str = "undelivered"
    ) -> None:
        """Messages to `number` sent from now on end `status` with `error_code` (30003-30008)."""
        self.carrier.failing[number] = (status, error_code)

    def inject(self, kind: FaultKind, times: int = 1) -> None:
        """Arm a fault for the next `times` creates (callback_*: the next dequeued messages)."""
        self._faults[kind] += times

    # -- observation -----------------------------------------------------------------------

    def message(self, sid: str) -> EmulatedMessage:
        return self._by_sid[sid]

    def messages_to(self, number: str) -> list[EmulatedMessage]:
        return [m for m in self.messages if m.to == number]

    @property
    def callbacks_posted(self) -> list[PostedWebhook]:
        return [p for p in self._webhooks.posted if p.kind == "status"]

    @property
    def inbound_posted(self) -> list[PostedWebhook]:
        return [p for p in self._webhooks.posted if p.kind == "inbound"]

    def achieved_rate(self, sender: str) -> float | None:
        """Segments per second between the first and the last dequeue of `sender`."""
        times = sorted(
            (m.sent_at, m.segments)
            for m in self.messages
            if m.sender == sender and m.sent_at is not None
        )
        if len(times) < 2 or times[-1][0] == times[0][0]:
            return None
        return sum(segments for _, segments in times[:-1]) / (times[-1][0] - times[0][0])

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:  # noqa: ASYNC109 - the brief's API
        """Wait until `predicate()` holds; re-checked on every emulator state change."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    changed = self._changed  # taken before the check, so no change is missed
                    if predicate():
                        return
                    await changed.wait()
        except TimeoutError:
            raise TimeoutError(f"condition not met within {timeout} s") from None

    # -- webhooks toward our app -----------------------------------------------------------

    async def send_inbound(
        self,
        post_url: str,
        *,
        signed_url: str | None = None,
        from_: str,
        to: str,
        body: str,
        message_sid: str | None = None,
        signature: SignatureMode = "valid",
        messaging_service_sid: str | None = None,
        extra: dict[str, str] | None = None,
    ) -> int:
        """POST Twilio's inbound-SMS form to our app and return its HTTP status.

        Reuse `message_sid` to replay. `signed_url` defaults to `post_url` rewritten by
        `public_url_map`. Raises ConnectionError if the app does not answer.
        """
        keyword = self._answer_keyword(from_, body)
        params = inbound_params(
            account_sid=self.account_sid,
            message_sid=message_sid or new_sid("SM"),
            from_=from_,
            to=to,
            body=body,
            messaging_service_sid=messaging_service_sid,
            extra={**({"OptOutType": keyword} if keyword else {}), **(extra or {})},
        )
        signed = signed_url or self._webhooks.resolve(post_url)[0]
        posted = await self._webhooks.post(
            "inbound", post_url=post_url, signed_url=signed, params=params, signature=signature
        )
        self._notify()
        if posted.http_status is None:
            raise ConnectionError(f"no answer from {post_url}")
        return posted.http_status

    async def post_status_callback(
        self,
        sid: str,
        status: str,
        *,
        error_code: int | None = None,
        signature: SignatureMode = "valid",
    ) -> int | None:
        """(Re)post one status callback for message `sid`, e.g. a late redelivery."""
        message = self._by_sid[sid]
        if not message.status_callback:
            raise ValueError(f"{sid} has no StatusCallback")
        signed, post = self._webhooks.resolve(message.status_callback)
        params = status_callback_params(message, status, error_code)
        posted = await self._webhooks.post(
            "status", post_url=post, signed_url=signed, params=params, signature=signature
        )
        self._notify()
        return posted.http_status

    def _answer_keyword(self, number: str, body: str) -> str | None:
        """Advanced Opt-Out: Twilio acts on a keyword and answers it before our webhook runs."""
        if not self.advanced_opt_out:
            return None
        keyword = opt_out_type(body, self.opt_out_keywords)
        if keyword == "STOP":
            self.opt_out(number)
        elif keyword == "START":
            self.opt_in(number)
        if keyword is not None:
            self.keyword_replies.append((number, DEFAULT_KEYWORD_REPLIES[keyword]))
        return keyword

    # -- used by MessagesApi and Carrier ---------------------------------------------------

    def find(self, sid: str) -> EmulatedMessage | None:
        return self._by_sid.get(sid)

    def is_opted_out(self, number: str) -> bool:
        return number in self._opted_out

    def is_invalid(self, number: str) -> bool:
        return number in self._invalid

    def take_fault(self, *kinds: str) -> str | None:
        """Consume one armed fault among `kinds`, if any."""
        for kind in kinds:
            if self._faults[kind] > 0:
                self._faults[kind] -= 1
                return kind
        return None

    def accept(self, form: dict[str, str]) -> EmulatedMessage:
        """Store and enqueue a validated create request."""
        now = asyncio.get_running_loop().time()
        message = EmulatedMessage.from_form(form, account_sid=self.account_sid, now=now)
        self.messages.append(message)
        self._by_sid[message.sid] = message
        self.counters["created"] += 1
        self._count_rate(message.sender, message.segments, now)
        room = self.queue_seconds * self._rate_of(message.sender)
        if self._queues.waiting(message.sender) + message.segments > room:
            self.counters["queue_overflow"] += 1  # answered as queued, then failed (Twilio)
            asyncio.get_running_loop().call_soon(self.carrier.fail, message, 30001)
        else:
            self._queues.push(message)
        self._notify()
        return message

    def _count_rate(self, sender: str, segments: int, now: float) -> None:
        """Counts creates sent faster than the sender's rate ("rate_violations"): those that
        arrive while more than a second's worth of segments is still ahead of them (Twilio
        queues them; a client keeping to the rate never makes one)."""
        ahead = self._rate_debt.get(sender, now) - now
        if ahead > 1.0 + 1e-6:
            self.counters["rate_violations"] += 1
        self._rate_debt[sender] = max(ahead, 0.0) + now + segments / self._rate_of(sender)

    def _rate_of(self, sender: str) -> float:
        return self.sender_rates.get(sender, self.rate_per_sender)

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()


async def _serve(args: argparse.Namespace) -> None:
    mapping = dict(item.split("=", 1) for item in args.public_url_map)
    async with TwilioEmulator(
        port=args.port, host=args.host, rate_per_sender=args.rate, public_url_map=mapping
    ) as emulator:
        print(f"base_url={emulator.base_url}", flush=True)
        print(f"account_sid={emulator.account_sid}", flush=True)
        print(f"auth_token={emulator.auth_token}", flush=True)
        await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description="Local Twilio Messaging API emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8082)
    parser.add_argument("--rate", type=float, default=1.0, help="segments/s per sender")
    parser.add_argument(
        "--public-url-map",
        action="append",
        default=[],
        metavar="PUBLIC=LOCAL",
        help="sign callbacks for the PUBLIC prefix while posting to the LOCAL one",
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(parser.parse_args()))


if __name__ == "__main__":
    main()
