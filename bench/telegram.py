"""Telegram throughput: mentorbot vs a bare aiogram echo bot, and a paced broadcast.

    /work/main/.venv/bin/python bench/telegram.py [--updates 2000] [--broadcast 3000]

Self-contained: the Bot API emulator runs in this process (it also plays the users); each bot
runs in its own process (uvicorn on 127.0.0.1, a temp SQLite database), so the bot does not
share an event loop with the load. The last line printed is one JSON object.

(a) webhook updates per second end to end: N users each send one message; the clock stops when
    the emulator has accepted N sendMessage answers. The emulator pushes updates to the webhook
    with Telegram's default of 40 concurrent connections; limits are off for this part.
(b) a broadcast of B messages to B distinct chats through mentorbot's outbox and delivery path
    (`Dispatcher.drain`), with the emulator enforcing 300/s and mentorbot pacing at 300/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# This file is named like python-telegram-bot's package (which the emulator uses): take our own
# folder off the import path and put the repository root on it.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

from fastapi import FastAPI, Request, Response  # noqa: E402

from tests.emulators.telegram_api import TelegramEmulator  # noqa: E402
from tests.telegram_world import free_port  # noqa: E402

SECRET = "bench-secret"
BROADCAST_RATE = 300


# ---- the bots under test (child processes) ----------------------------------------------


def mentorbot_settings(api_base: str, token: str, db: str, port: int, rate: float) -> Any:
    from bot.settings import Settings

    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="test", database_url=f"sqlite:///{db}", demo_seed=False,
        public_url=f"http://127.0.0.1:{port}", scheduler={"enabled": False},
        telegram={"token": token, "api_base": api_base, "mode": "webhook",
                  "webhook_secret": SECRET, "rate_per_second": rate},
    )


def serve_mentorbot(api_base: str, token: str, db: str, port: int) -> None:
    import uvicorn

    from bot.app import build_runtime
    from bot.logs import configure_logging
    from bot.web import create_web_app

    configure_logging("WARNING")
    settings = mentorbot_settings(api_base, token, db, port, rate=100_000)
    app = create_web_app(build_runtime(settings))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def serve_echo(api_base: str, token: str, port: int) -> None:
    """The smallest honest aiogram webhook bot: FastAPI route -> feed_update -> answer."""
    from contextlib import asynccontextmanager

    import uvicorn
    from aiogram import Bot, Dispatcher, F
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiogram.types import Message, Update

    bot = Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(api_base)))
    dp = Dispatcher()

    @dp.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(message.text or "")

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> Any:
        await bot.set_webhook(f"http://127.0.0.1:{port}/telegram/webhook", secret_token=SECRET)
        yield
        await bot.session.close()

    app = FastAPI(lifespan=lifespan)

    @app.post("/telegram/webhook")
    async def webhook(request: Request) -> Response:
        if request.headers.get("X-Telegram-Bot-Api-Secret-Token") != SECRET:
            return Response(status_code=401)
        update = Update.model_validate(await request.json(), context={"bot": bot})
        await dp.feed_update(bot, update)
        return Response(status_code=200)

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def run_broadcast(api_base: str, token: str, db: str, first_chat: int, count: int) -> None:
    from bot.app import build_runtime
    from bot.clock import FakeClock
    from bot.logs import configure_logging
    from bot.messages import Reply
    from storage.outbox import add_replies
    from storage.people import create_person, update_person

    configure_logging("WARNING")
    # A broadcast obeys quiet hours: pin the policy's clock to a weekday late morning in the
    # recipients' zone, so the figures do not depend on the hour the bench runs.
    clock = FakeClock(datetime(2026, 11, 23, 16, 0, tzinfo=UTC))
    settings = mentorbot_settings(api_base, token, db, 1, rate=BROADCAST_RATE)
    runtime = build_runtime(settings, clock=clock)
    now = clock.now()

    def enqueue(session: Any) -> None:
        for chat in range(first_chat, first_chat + count):
            person = create_person(session, "telegram", str(chat), now)
            update_person(session, person, time_zone="America/New_York")
            add_replies(session, person_id=person.id, channel="telegram", address=str(chat),
                        replies=[Reply(f"Broadcast to {chat}")], now=now, kind="broadcast")

    runtime.db.run_sync(enqueue)

    async def drain() -> None:
        while await runtime.dispatcher.drain(limit=count):
            pass
        await runtime.extras["telegram_bot"].session.close()

    asyncio.run(drain())
    runtime.db.close()


# ---- the harness (this process) ---------------------------------------------------------


def child(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    out = log.open("ab")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, __file__, *args], stdout=out, stderr=out, env=env,
                            cwd=ROOT)


async def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)  # Ctrl-C: the app must stop cleanly
    for _ in range(100):
        if proc.poll() is not None:
            return
        await asyncio.sleep(0.1)
    proc.kill()


async def webhook_rate(kind: str, updates: int, tmp: Path) -> float:
    async with TelegramEmulator(enforce_limits=False) as emu:
        port = free_port()
        args = ["--serve", kind, "--api-base", emu.base_url, "--token", emu.token,
                "--port", str(port), "--db", str(tmp / f"{kind}.sqlite3")]
        proc = child(args, tmp / f"{kind}.log")
        try:
            async with asyncio.timeout(60):
                while not emu.webhook_url:  # noqa: ASYNC110 - set by the child process
                    await asyncio.sleep(0.05)
            await emu.user_sends_text(1, "warm-up")
            await emu.wait_for(1, timeout=10)
            started = time.perf_counter()
            users = range(100, 100 + updates)
            await asyncio.gather(*(emu.user_sends_text(u, f"hi {u}") for u in users))
            await emu.wait_for(updates + 1, timeout=120)
            elapsed = time.perf_counter() - started
        finally:
            await stop(proc)
        print(f"{kind}: {updates} updates in {elapsed:.2f} s = {updates / elapsed:.0f}/s; "
              f"non-2xx webhook answers: {sum(s != 200 for s in emu.webhook_statuses)}")
        return updates / elapsed


async def broadcast(count: int, tmp: Path) -> dict[str, Any]:
    async with TelegramEmulator(global_rate=BROADCAST_RATE) as emu:
        first = 1_000_000
        for chat in range(first, first + count):
            emu.register_chat(chat)
        args = ["--broadcast", str(count), "--first-chat", str(first), "--api-base",
                emu.base_url, "--token", emu.token, "--db", str(tmp / "broadcast.sqlite3")]
        proc = child(args, tmp / "broadcast.log")
        while proc.poll() is None:  # noqa: ASYNC110 - a child process
            await asyncio.sleep(0.1)
        sends = [r for r in emu.sent if r.method == "sendMessage"]
        chats = {r.chat_id for r in sends}
        span = sends[-1].time - sends[0].time if len(sends) > 1 else float("inf")
        rate = (len(sends) - 1) / span
        print(f"broadcast: {len(sends)} sends in {span:.2f} s = {rate:.1f}/s "
              f"(limit {BROADCAST_RATE}/s); busiest second {emu.max_rate_seen().overall}; "
              f"429s {emu.count_429}; exit code {proc.returncode}")
        return {"broadcast_rate_share": round(rate / BROADCAST_RATE, 3),
                "broadcast_429": emu.count_429,
                "broadcast_lost": count - len(chats & set(range(first, first + count))),
                "broadcast_duplicates": len(sends) - len(chats)}


async def main(updates: int, broadcast_count: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-telegram-") as name:
        tmp = Path(name)
        mentorbot = await webhook_rate("mentorbot", updates, tmp)
        echo = await webhook_rate("echo", updates, tmp)
        result = {"mentorbot_updates_per_s": round(mentorbot, 1),
                  "echo_updates_per_s": round(echo, 1),
                  "ratio": round(mentorbot / echo, 3),
                  **await broadcast(broadcast_count, tmp)}
    print(json.dumps(result))


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--broadcast", type=int, default=3000)
    parser.add_argument("--serve", choices=["mentorbot", "echo"])
    parser.add_argument("--api-base")
    parser.add_argument("--token")
    parser.add_argument("--port", type=int)
    parser.add_argument("--db")
    parser.add_argument("--first-chat", type=int)
    args = parser.parse_args()
    if args.serve == "mentorbot":
        serve_mentorbot(args.api_base, args.token, args.db, args.port)
    elif args.serve == "echo":
        serve_echo(args.api_base, args.token, args.port)
    elif args.api_base:
        run_broadcast(args.api_base, args.token, args.db, args.first_chat, args.broadcast)
    else:
        asyncio.run(main(args.updates, args.broadcast))


if __name__ == "__main__":
    cli()
