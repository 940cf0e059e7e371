"""SMS throughput bench: 2,000 deliveries through drain -> policy -> TwilioSender -> emulator.

Self-contained: a temp SQLite database, the Twilio emulator draining 50 segments/s per sender
from a bounded queue (10 s of sending: a create beyond it fails with 30001, queue overflow, as
Twilio's 4-hour queue does), the app served by uvicorn on loopback (status callbacks land for
real), and a clock that starts at 13:59:50 in New York so the Honolulu recipients are held
until their 9:00.

The rate is the application's own: the start times its SMS sender's pacer hands out (recorded
by wrapping that pacer), not when the emulator's queue lets messages out (the emulator's own
pacing, which hides bursts). `busiest_second` is the most segments started in any one-second
window, against the configured `rate`; `achieved_rate_share` is the mean rate from the first
start to the last over the configured one. `busiest_second_at_api` is the same window over the
create requests' arrivals at the emulator (which shares the app's event loop, so a stalled
loop bunches them). `statuses` counts the deliveries' final statuses (after the status
callbacks). Prints, as the last line, one JSON object: {"rate", "busiest_second",
"busiest_second_share", "achieved_rate_share", "busiest_second_at_api", "statuses",
"queue_overflows", "rate_violations", "sent_outside_quiet_hours", "duplicates", "lost"}.

Run: python -m bench.sms [--messages 2000] [--rate 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import uvicorn
from sqlalchemy import select

from bot.app import build_runtime
from bot.logs import configure_logging
from bot.messages import Reply
from bot.settings import Settings
from bot.web import create_web_app
from scheduler.quiet_hours import SendWindow, candidate_zones
from storage.outbox import add_replies
from storage.tables import Delivery
from tests.emulators.twilio_api import TwilioEmulator

START = datetime(2026, 11, 24, 18, 59, 50, tzinfo=UTC)  # 13:59:50 New York, 8:59:50 Honolulu
OUR_NUMBER = "+15005550006"
PUBLIC = "https://bench.mentorbot.example"
AREA_CODES = ("212", "312", "415", "808")  # New York, Chicago, San Francisco, Honolulu
QUEUE_SECONDS = 10.0  # the emulator's queue per sender, in seconds of sending at the rate
FINAL = frozenset({"delivered", "failed", "undelivered", "suppressed", "expired", "review"})


class RunningClock:
    """Starts at `START` and runs at real speed (the emulator's loop clock)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop, self._t0 = loop, loop.time()

    def now(self) -> datetime:
        return self.at(self._loop.time())

    def at(self, loop_time: float) -> datetime:
        return START + timedelta(seconds=loop_time - self._t0)


def recipients(count: int) -> list[str]:
    return [
        f"+1{AREA_CODES[i % len(AREA_CODES)]}555{i // len(AREA_CODES):04d}" for i in range(count)
    ]


def settings_for(emu: TwilioEmulator, db_url: str, rate: float) -> Settings:
    twilio = {
        "account_sid": emu.account_sid, "auth_token": emu.auth_token, "from_number": OUR_NUMBER,
        "api_base": emu.base_url, "rate_per_second": rate, "inbox_sweep_seconds": 3600,
    }  # fmt: skip
    return Settings(
        _env_file=None, environment="test", database_url=db_url, demo_seed=False,  # type: ignore[call-arg]
        public_url=PUBLIC, scheduler={"enabled": False}, twilio=twilio,
    )  # fmt: skip


def queue_all(runtime: object, phones: list[str], total: int) -> dict[int, tuple[str, str]]:
    now = runtime.clock.now()  # type: ignore[attr-defined]

    def write(session: object) -> dict[int, tuple[str, str]]:
        planned: dict[int, tuple[str, str]] = {}
        for i in range(total):
            phone, text = phones[i % len(phones)], f"Reminder {i}: your class starts soon."
            [out] = add_replies(
                session, person_id=None, channel="sms", address=phone,  # type: ignore[arg-type]
                replies=[Reply(text)], now=now, kind="nudge",
            )  # fmt: skip
            planned[out.delivery_id] = (phone, text)
        return planned

    return runtime.db.run_sync(write)  # type: ignore[attr-defined]


async def drain_until_done(runtime: object, emu: TwilioEmulator, total: int) -> None:
    deadline = time.monotonic() + total / 10 + 60
    while len(emu.messages) < total and time.monotonic() < deadline:
        if await runtime.dispatcher.drain(limit=500) == 0:  # type: ignore[attr-defined]
            await asyncio.sleep(0.05)
    await emu.wait_for(  # sent, or failed in the queue (overflow, expiry)
        lambda: all(m.sent_at is not None or m.status == "failed" for m in emu.messages),
        timeout=30,
    )


def outside_window(emu: TwilioEmulator, clock: RunningClock, window: SendWindow) -> int:
    bad = 0
    for message in emu.messages:
        sent = clock.at(message.sent_at or 0.0)
        for zone in candidate_zones(message.to, None) or frozenset():
            local = sent.astimezone(ZoneInfo(zone)).time()
            if not window.start <= local < window.end:
                bad += 1
                break
    return bad


Starts = list[tuple[float, int]]  # (event-loop time, segments)


def record_starts(runtime: object) -> Starts:
    """Record the SMS sender's start times: when its pacer lets each message go."""
    sender = runtime.extras["sms"].sender  # type: ignore[attr-defined]
    pacer = sender._pacer  # the product's own pacer (bot/channels/sms_sender.Pacer)
    starts: Starts = []
    wait = pacer.wait

    async def recorded(segments: int = 1) -> None:
        await wait(segments)
        starts.append((asyncio.get_running_loop().time(), segments))

    pacer.wait = recorded
    return starts


def busiest_second(starts: Starts) -> int:
    """The most segments started within any one second (a sliding window over the starts)."""
    starts = sorted(starts)
    best = total = first = 0
    for at, segments in starts:
        total += segments
        while starts[first][0] <= at - 1.0:
            total -= starts[first][1]
            first += 1
        best = max(best, total)
    return best


def mean_rate(starts: Starts) -> float:
    """Segments per second from the first start to the last (the last one's not counted)."""
    starts = sorted(starts)
    if len(starts) < 2 or starts[-1][0] == starts[0][0]:
        return 0.0
    return sum(segments for _, segments in starts[:-1]) / (starts[-1][0] - starts[0][0])


def statuses(runtime: object, ids: list[int]) -> dict[str, int]:
    def read(session: object) -> dict[str, int]:
        rows = session.execute(  # type: ignore[attr-defined]
            select(Delivery.status).where(Delivery.id.in_(ids)))  # type: ignore[attr-defined]
        return dict(sorted(Counter(rows.scalars()).items()))

    return runtime.db.run_sync(read)  # type: ignore[attr-defined]


async def settled(runtime: object, ids: list[int], timeout: float = 30.0) -> dict[str, int]:  # noqa: ASYNC109
    """The deliveries' statuses once every one is final (callbacks in), or at `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        found = statuses(runtime, ids)
        if set(found) <= FINAL or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.2)


def figures(
    emu: TwilioEmulator,
    clock: RunningClock,
    planned: dict[int, tuple[str, str]],
    rate: float,
    final: dict[str, int],
    starts: Starts,
) -> dict[str, object]:
    received = Counter((m.to, m.body) for m in emu.messages)
    arrivals = [(m.queued_at, m.segments) for m in emu.messages if m.sender == OUR_NUMBER]
    peak = busiest_second(starts)
    return {
        "rate": rate,
        "busiest_second": peak,
        "busiest_second_share": round(peak / rate, 4),
        "achieved_rate_share": round(mean_rate(starts) / rate, 4),
        "busiest_second_at_api": busiest_second(arrivals),
        "statuses": final,
        "queue_overflows": emu.counters["queue_overflow"],
        "rate_violations": emu.counters["rate_violations"],
        "sent_outside_quiet_hours": outside_window(emu, clock, SendWindow()),
        "duplicates": sum(n - 1 for n in received.values() if n > 1),
        "lost": sum(1 for key in planned.values() if key not in received),
    }


def _socket() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


async def run(total: int, rate: float, workdir: Path) -> dict[str, object]:
    os.environ.pop("TWILIO_REGION", None)
    os.environ.pop("TWILIO_EDGE", None)
    sock = _socket()
    local = f"http://127.0.0.1:{sock.getsockname()[1]}"
    async with TwilioEmulator(rate_per_sender=rate, public_url_map={PUBLIC: local}) as emu:
        emu.queue_seconds = QUEUE_SECONDS
        clock = RunningClock(asyncio.get_running_loop())
        settings = settings_for(emu, f"sqlite:///{workdir}/bench.sqlite3", rate)
        runtime = build_runtime(settings, clock=clock)
        starts = record_starts(runtime)
        server = uvicorn.Server(uvicorn.Config(create_web_app(runtime), log_level="error"))
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:  # noqa: ASYNC110 - uvicorn offers no started event
            await asyncio.sleep(0.01)
        planned = queue_all(runtime, recipients(total // 2), total)
        started = time.monotonic()
        await drain_until_done(runtime, emu, total)
        print(f"sent {len(emu.messages)} of {total} in {time.monotonic() - started:.1f} s")
        final = await settled(runtime, list(planned))
        result = figures(emu, clock, planned, rate, final, starts)
        server.should_exit = True
        await serving
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=50.0)
    args = parser.parse_args()
    configure_logging("WARNING")
    with tempfile.TemporaryDirectory() as workdir:
        result = asyncio.run(run(args.messages, args.rate, Path(workdir)))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
