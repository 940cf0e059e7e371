"""Three sender processes on PostgreSQL drain 20,000 due nudges through a paced fake channel.

    .venv/bin/python bench/sender.py [--deliveries 20000] [--processes 3] [--rate 1000]

Each process runs the real `Dispatcher.drain()` (claim with SKIP LOCKED, send-time policy with
consent, cap and quiet hours, send, record) against a recording channel paced by the product's
own Telegram pacer (`bot.channels.telegram_pacing.Pacer`: evenly spaced starts, no burst) at
rate / processes messages per second, and writes the ids it sent, with their start times, to
its own file. The last line printed: {"sent", "duplicates", "lost", "rate_share",
"busiest_second", ...}, where rate_share = achieved messages per second / configured rate and
busiest_second = the most starts, all processes together, in any one-second window.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ZONES = (
    "America/New_York",
    "Europe/Moscow",
    "Asia/Kolkata",
    "America/Los_Angeles",
    "Australia/Sydney",
    "Europe/London",
    "Asia/Tokyo",
)


def zone_in_daytime(now: datetime) -> str:
    """A zone where it is 10:00-18:00 now, so quiet hours let everything go."""
    return next(z for z in ZONES if 10 <= now.astimezone(ZoneInfo(z)).hour < 18)


def seed(url: str, count: int) -> None:
    import psycopg

    from storage.migrate import upgrade

    upgrade(url)
    now = datetime.now(UTC).replace(tzinfo=None)
    zone = zone_in_daytime(datetime.now(UTC))
    with psycopg.connect(url, autocommit=True) as conn, conn.cursor() as cur:
        with cur.copy("COPY person (id, role, time_zone, under_13, created_at) FROM STDIN") as cp:
            for pid in range(1, count + 1):
                cp.write_row((pid, "student", zone, False, now))
        with cur.copy(
            "COPY consent_record (person_id, purpose, decision, actor, created_at) FROM STDIN"
        ) as cp:
            for pid in range(1, count + 1):
                cp.write_row((pid, "nudges", "granted", "self", now))
        columns = (
            "person_id, channel, address, kind, purpose, text, choices, status, due_at, "
            "attempts, meta, created_at, updated_at, dedupe_key, step"
        )
        with cur.copy(f"COPY delivery ({columns}) FROM STDIN") as cp:
            for pid in range(1, count + 1):
                cp.write_row(
                    (
                        pid,
                        "telegram",
                        f"tg-{pid}",
                        "nudge",
                        "nudges",
                        "Hi!",
                        "[]",
                        "pending",
                        now,
                        0,
                        '{"priority": 50}',
                        now,
                        now,
                        f"bench:{pid}",
                        0,
                    )
                )
        conn.execute("ANALYZE")


def sender_process(url: str, out: str, rate: float, start_at: float) -> None:
    from bot.logs import configure_logging

    configure_logging("WARNING")
    sent, starts, finished = asyncio.run(_drain_all(url, rate, start_at))
    Path(out).write_text(json.dumps({"ids": sent, "starts": starts, "finished": finished}))


async def _drain_all(
    url: str, rate: float, start_at: float
) -> tuple[list[int], list[float], float]:
    from bot.channels.base import NOT_STARTED, Begin, SendResult
    from bot.channels.telegram_pacing import Pacer
    from bot.clock import SystemClock
    from bot.dispatch import Dispatcher
    from bot.messages import Outbound
    from bot.metrics import Metrics
    from storage.database import Database, create_db_engine

    pacer = Pacer(rate, clock=time.time)  # wall clock: start times compare across processes
    pacer.starts = []
    sent: list[int] = []

    class PacedChannel:
        name = "telegram"

        async def send(self, outbound: Outbound, begin: Begin) -> SendResult:
            await pacer.acquire()
            try:
                if not await begin():
                    return NOT_STARTED
                sent.append(outbound.delivery_id)
                return SendResult(ok=True, external_id=str(outbound.delivery_id))
            finally:
                pacer.release()  # the answer is in (a real channel: Telegram's)

    db = Database(create_db_engine(url, pool_size=8))
    dispatcher = Dispatcher(db, {"telegram": PacedChannel()}, SystemClock(), Metrics())
    await asyncio.sleep(max(0.0, start_at - time.time()))
    idle = 0
    while idle < 3:  # stop after three empty claims in a row
        # Small claims keep the three processes' shares even to the end (each paces a third).
        idle = idle + 1 if await dispatcher.drain(limit=100) == 0 else 0
    finished = time.time()
    db.close()
    return sent, pacer.starts or [], finished


def busiest_second(starts: list[float]) -> int:
    """The most starts within any one second (sliding window over sorted start times)."""
    best = first = 0
    for last, at in enumerate(starts):
        while starts[first] <= at - 1.0:
            first += 1
        best = max(best, last - first + 1)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=20_000)
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--rate", type=float, default=1_000.0, help="messages/s, all together")
    args = parser.parse_args()
    from tests.postgres_server import postgres_server

    with postgres_server() as url:
        seed(url, args.deliveries)
        outputs = [tempfile.mktemp(suffix=".json") for _ in range(args.processes)]
        start_at = time.time() + 3.0  # every process imported and connected by then
        context = multiprocessing.get_context("spawn")
        workers = [
            context.Process(
                target=sender_process, args=(url, out, args.rate / args.processes, start_at)
            )
            for out in outputs
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        results = [json.loads(Path(out).read_text()) for out in outputs]
    ids = [i for r in results for i in r["ids"]]
    starts = sorted(t for r in results for t in r["starts"])
    elapsed = max(r["finished"] for r in results) - start_at
    unique = set(ids)
    figures = {
        "sent": len(ids),
        "duplicates": len(ids) - len(unique),
        "lost": args.deliveries - len(unique),
        "rate_share": round(len(unique) / elapsed / args.rate, 3),
        "busiest_second": busiest_second(starts),
        "per_process": [len(r["ids"]) for r in results],
        "configured_rate": args.rate,
        "seconds": round(elapsed, 2),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
