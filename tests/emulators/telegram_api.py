"""A local Telegram Bot API emulator: a real aiohttp server speaking the Bot API wire format.

    async with TelegramEmulator() as emu:
        bot = Bot(emu.token, session=AiohttpSession(api=TelegramAPIServer.from_base(emu.base_url)))
        await emu.user_sends_command(42, "start")

Standalone: `python -m tests.emulators.telegram_api --port 8081 --token 123:ABC`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import deque
from contextlib import suppress
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp import web

from tests.emulators.telegram_methods import Described
from tests.emulators.telegram_state import (
    Fault,
    MaxRate,
    SentMatcher,
    SentRecord,
    WebhookDelivery,
)
from tests.emulators.telegram_users import UserActions
from tests.emulators.telegram_wire import (
    ApiError,
    error_answer,
    now,
    ok_answer,
    read_params,
)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class TelegramEmulator(UserActions):
    """Bot API on 127.0.0.1 with rate limits, fault injection, users and observation."""

    def __init__(self, *, token: str = "123456:TEST-TOKEN", global_rate: float = 30,
                 per_chat_rate: float = 1, enforce_limits: bool = True,
                 host: str = "127.0.0.1", port: int = 0, webhook_timeout: float = 60) -> None:
        super().__init__(token, global_rate, per_chat_rate, enforce_limits)
        self.host, self.port = host, port
        self.webhook_timeout = webhook_timeout
        self.base_url = ""
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None
        self._webhook_slots = asyncio.Semaphore(self.webhook_max_connections)
        self._background: set[asyncio.Task[None]] = set()
        # Telegram retries an update the webhook did not answer with 2xx; off by default so
        # tests can count single attempts. Seconds between attempts when on.
        self.webhook_retry_seconds: float | None = None

    # ---- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        self.port = self._runner.addresses[0][1]
        self.base_url = f"http://{self.host}:{self.port}"
        self._client = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))

    async def stop(self) -> None:
        self.closing.set()  # releases held requests and long polls
        self.wake_pollers()
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        if self._client is not None:
            await self._client.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> TelegramEmulator:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()

    # ---- HTTP ---------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return error_answer(ApiError(401, "Unauthorized"))
        found = self.methods.get(request.match_info["method"].lower())
        if found is None:
            return error_answer(ApiError(404, "Not Found"))
        name, method = found
        self.calls[name] += 1
        try:
            params = await read_params(request)
            chat = str(params.get("chat_id", ""))
            fault = self.faults.take(name, int(chat) if chat.lstrip("-").isdigit() else None)
            if fault is not None and fault.kind == "timeout":
                return await self._hold(method, params, fault)
            if fault is not None:
                raise fault.error()
            result = await method(params)
        except ApiError as error:
            self.count_429 += error.code == 429
            return error_answer(error)
        if isinstance(result, Described):
            return ok_answer(result.result, result.description)
        return ok_answer(result)

    async def _hold(self, method: Any, params: dict[str, Any], fault: Fault) -> web.Response:
        """Model "sent, but the answer was lost": do the work, then answer too late."""
        result: Any = None
        if fault.deliver:
            with suppress(ApiError):
                result = await method(params)
        with suppress(TimeoutError):
            await asyncio.wait_for(self.closing.wait(), fault.hold)
        if result is None:
            return error_answer(ApiError(500, "Internal Server Error"))
        return ok_answer(result.result if isinstance(result, Described) else result)

    # ---- webhook delivery ---------------------------------------------------------------

    async def emit(self, update: dict[str, Any]) -> dict[str, Any]:
        """Deliver to the webhook (awaiting its answer) or queue for getUpdates; an update of
        a type the bot did not ask for is dropped, as Telegram does."""
        if not self.wanted(update):
            self.dropped_updates.append(update)
        elif self.webhook_url:
            await self._deliver(update)
        else:
            self.queue_update(update)
        return update

    def on_webhook_set(self) -> None:
        self._webhook_slots = asyncio.Semaphore(self.webhook_max_connections)
        if self.pending:
            backlog, self.pending = list(self.pending), deque()
            task = asyncio.create_task(self._deliver_backlog(backlog))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _deliver_backlog(self, backlog: list[dict[str, Any]]) -> None:
        await asyncio.gather(*(self._deliver(update) for update in backlog))

    async def _deliver(self, update: dict[str, Any]) -> None:
        while True:
            started = time.monotonic()
            async with self._webhook_slots:
                status, error = await self._post(self.webhook_url, update, self.webhook_secret)
            self.webhook_deliveries.append(
                WebhookDelivery(update.get("update_id"), status, time.monotonic() - started,
                                error))  # fmt: skip
            if 200 <= status < 300:
                return
            self.webhook_last_error = (now(), error or f"Wrong response from the webhook: "
                                       f"{status}")
            if self.webhook_retry_seconds is None:
                return
            await asyncio.sleep(self.webhook_retry_seconds)

    async def _post(self, url: str, body: Any, secret: str | None) -> tuple[int, str | None]:
        assert self._client is not None, "call start() first"
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers[SECRET_HEADER] = secret
        try:
            async with self._client.post(url, data=json.dumps(body), headers=headers,
                                         timeout=aiohttp.ClientTimeout(self.webhook_timeout)) as r:
                await r.read()
                return r.status, None
        except (aiohttp.ClientError, TimeoutError) as exc:
            return 0, f"Connection failed: {type(exc).__name__}: {exc}"

    async def post_to_webhook(self, update: dict[str, Any], *, secret: str | None,
                              url: str | None = None) -> int:
        """POST `update` with any secret (None = no header); not recorded. Returns the status."""
        status, error = await self._post(url or self.webhook_url, update, secret)
        if status == 0:
            raise ConnectionError(error)
        return status

    # ---- control and observation --------------------------------------------------------

    def inject(self, method: str, kind: str, times: int = 1, retry_after: int = 1, *,
               status: int | None = None, description: str | None = None,
               deliver: bool = True, hold: float = 120.0, chat_id: int | None = None) -> None:
        """Fail the next `times` calls of `method` ("*" = any) with `kind` (only those to
        `chat_id` if given)."""
        self.faults.arm(method, Fault(kind, times, retry_after, status, description, deliver,
                                      hold, chat_id))

    def block_user(self, chat_id: int) -> None:
        self.blocked.add(chat_id)

    def unblock_user(self, chat_id: int) -> None:
        self.blocked.discard(chat_id)

    @property
    def sent(self) -> list[SentRecord]:
        return self.log.records

    def messages_to(self, chat_id: int) -> list[SentRecord]:
        return list(self.log.by_chat.get(chat_id, ()))

    async def wait_for(
        self, matcher: SentMatcher, timeout: float = 5  # noqa: ASYNC109 - brief's API
    ) -> list[SentRecord]:
        """Wait for `matcher` sends (an int = total count; a predicate = any matching)."""
        return await self.log.wait_for(matcher, timeout)

    @property
    def webhook_statuses(self) -> list[int]:
        return [delivery.status for delivery in self.webhook_deliveries]

    def max_rate_seen(self) -> MaxRate:
        """Most accepted sends in any sliding 1 s window: (overall, per_chat)."""
        return self.limiter.max_seen

    def pending_updates(self) -> list[dict[str, Any]]:
        return list(self.pending)


async def _serve(port: int, token: str, enforce_limits: bool) -> None:
    async with TelegramEmulator(token=token, port=port, enforce_limits=enforce_limits) as emu:
        print(emu.base_url, flush=True)
        await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description="Local Telegram Bot API emulator")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default="123456:TEST-TOKEN")
    parser.add_argument("--no-limits", action="store_true", help="do not answer 429")
    args = parser.parse_args()
    with suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.port, args.token, not args.no_limits))


__all__ = ["SECRET_HEADER", "MaxRate", "SentRecord", "TelegramEmulator"]

if __name__ == "__main__":
    main()
