"""The Telegram end-to-end harness: emulator + mentorbot served by uvicorn on 127.0.0.1."""

from __future__ import annotations

import asyncio
import itertools
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from bot.app import Runtime, build_runtime
from bot.clock import Clock
from bot.web import create_web_app
from tests.conftest import make_settings
from tests.emulators.telegram_api import SentRecord, TelegramEmulator

WEBHOOK_SECRET = "s3cret-for-tests_ok"
API_TOKEN = "api-token-for-tests"
ADMIN_ID = 777
MYDATA = "This is what we store about you"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class World:
    emu: TelegramEmulator
    runtime: Runtime
    mode: str
    base_url: str
    _ids: Any = field(default_factory=lambda: itertools.count(10_000))

    def new_user_id(self) -> int:
        return next(self._ids)

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Poll a database-side state (the emulator's own waits cover what it received)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            if loop.time() > deadline:
                raise TimeoutError(f"condition not met within {timeout} s")
            await asyncio.sleep(0.02)

    async def replies(self, chat_id: int, count: int, timeout: float = 5) -> list[SentRecord]:  # noqa: ASYNC109
        """Wait until the chat has `count` messages from the bot; return them all."""
        await self.emu.wait_for(lambda _r: len(self.emu.messages_to(chat_id)) >= count, timeout)
        return self.emu.messages_to(chat_id)

    async def settle(self, chat_id: int) -> list[SentRecord]:
        """Send /mydata and wait for its answer; return what the chat got before it.

        Sends to one chat are in order, so once this answer is in, anything earlier updates
        would have produced has been sent too.
        """
        seen = len(self.emu.messages_to(chat_id))
        await self.emu.user_sends_command(chat_id, "mydata")

        def answered(record: SentRecord) -> bool:
            return record.chat_id == chat_id and (record.text or "").startswith(MYDATA)

        await self.emu.wait_for(lambda _r: any(
            answered(r) for r in self.emu.messages_to(chat_id)[seen:]), 5)
        sent = self.emu.messages_to(chat_id)
        marker = next(i for i in range(seen, len(sent)) if answered(sent[i]))
        return sent[:marker]


def world_settings(sqlite_url: str, mode: str, emu: TelegramEmulator, port: int,
                   **telegram: Any) -> Any:
    return make_settings(
        sqlite_url,
        public_url=f"http://127.0.0.1:{port}",
        api_token=API_TOKEN,
        admin_telegram_ids=[ADMIN_ID],
        telegram={
            "token": emu.token,
            "api_base": emu.base_url,
            "mode": mode,
            "webhook_secret": WEBHOOK_SECRET,
            "request_timeout": 1,
            **telegram,
        },
    )


@asynccontextmanager
async def serving(runtime: Runtime, port: int) -> AsyncIterator[None]:
    """Run the real FastAPI app (lifespan included) under uvicorn in this event loop."""
    config = uvicorn.Config(create_web_app(runtime), host="127.0.0.1", port=port,
                            log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(20):
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.02)
        yield
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def telegram_world(
    sqlite_url: str, mode: str, clock: Clock | None = None, **telegram: Any
) -> AsyncIterator[World]:
    async with TelegramEmulator(per_chat_rate=telegram.get("per_chat_per_second", 1)) as emu:
        emu.register_chat(ADMIN_ID, first_name="Ada")
        port = free_port()
        settings = world_settings(sqlite_url, mode, emu, port, **telegram)
        runtime = build_runtime(settings, clock=clock)
        async with serving(runtime, port):
            if mode == "webhook":
                assert emu.webhook_url.endswith("/telegram/webhook")
            yield World(emu, runtime, mode, f"http://127.0.0.1:{port}")
