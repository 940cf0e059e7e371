"""Inbound messages per second through the engine on SQLite, against an echo baseline.

The engine path is the full one: dedupe (message log), person and state load, the flow step,
persisting state and consent, and recording the replies in the outbox. The baseline echoes each
message through the same storage transaction (dedupe + one outbox row) with no flow at all.
Both run in this process, on the same machine, one after the other, so the ratio is what counts.
Last line: one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.app import Runtime, build_runtime
from bot.clock import SystemClock
from bot.messages import Inbound, Reply
from bot.settings import Settings
from storage.outbox import add_replies
from storage.people import link_identity
from storage.tables import MessageLog, Person
from storage.upsert import insert_ignore

# A realistic turn mix: the consent workflow, settings, help and free text.
SCRIPT = [
    "hi",
    "+44 7911 123456",
    "2",
    "415 555 2671",
    "yes",
    "/settings",
    "1",
    "1",
    "done",
    "what is coaching?",
    "/mydata",
    "help",
]


def make_runtime(directory: str) -> Runtime:
    settings = Settings(
        _env_file=None,
        environment="test",  # type: ignore[call-arg]
        database_url=f"sqlite:///{directory}/bench.sqlite3",
        demo_seed=False,
        scheduler={"enabled": False},
        consent={"eligible_programs": ["bench"]},
    )
    return build_runtime(settings, clock=SystemClock())


def add_students(runtime: Runtime, count: int) -> list[str]:
    now = datetime.now(UTC)

    def create(session: object) -> list[str]:
        addresses = []
        for i in range(count):
            person = Person(
                role="student",
                display_name=f"S{i}",
                locale="en",
                track="verified",
                program="bench",
                last_active_at=now - timedelta(days=1),
                created_at=now,
            )
            session.add(person)  # type: ignore[attr-defined]
            session.flush()  # type: ignore[attr-defined]
            address = f"bench-{i}"
            link_identity(session, person.id or 0, "webchat", address, now)  # type: ignore[arg-type]
            addresses.append(address)
        return addresses

    return runtime.db.run_sync(create)


def echo_turn(runtime: Runtime, inbound: Inbound) -> int:
    """The baseline: dedupe and one reply row in one transaction, no state, no flow."""

    def work(session: object) -> int:
        now = datetime.now(UTC)
        row = dict(
            channel=inbound.channel,
            external_id=inbound.external_id,
            person_id=None,
            direction="in",
            text=inbound.text,
            created_at=now,
        )
        if not insert_ignore(session, MessageLog.__table__, row):  # type: ignore[arg-type]
            return 0
        add_replies(
            session,
            person_id=None,
            channel=inbound.channel,  # type: ignore[arg-type]
            address=inbound.address,
            replies=[Reply(inbound.text)],
            now=now,
        )
        return 1

    return runtime.db.run_sync(work)


def inbounds(addresses: list[str], total: int, tag: str) -> list[Inbound]:
    out = []
    for n in range(total):
        address = addresses[n % len(addresses)]
        text = SCRIPT[(n // len(addresses)) % len(SCRIPT)]
        out.append(Inbound("webchat", address, f"{tag}-{n}", text))
    return out


async def throughput(handle, messages: list[Inbound], concurrency: int) -> float:  # type: ignore[no-untyped-def]
    queue = list(reversed(messages))

    async def worker() -> None:
        while queue:
            await handle(queue.pop())

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(messages) / (time.perf_counter() - start)


async def latency_at(runtime: Runtime, messages: list[Inbound], rate: float) -> float:
    """p99 latency (ms) when messages arrive at a steady `rate` per second."""
    latencies: list[float] = []

    async def one(inbound: Inbound) -> None:
        start = time.perf_counter()
        await runtime.engine.handle(inbound)
        latencies.append((time.perf_counter() - start) * 1000)

    tasks = []
    begin = time.perf_counter()
    for index, inbound in enumerate(messages):
        delay = begin + index / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(inbound)))
    await asyncio.gather(*tasks)
    return statistics.quantiles(latencies, n=100)[98]


async def run(total: int, students: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as directory:
        runtime = make_runtime(directory)
        addresses = add_students(runtime, students)
        await throughput(runtime.engine.handle, inbounds(addresses, 500, "warm"), 16)
        engine_rate = await throughput(
            runtime.engine.handle, inbounds(addresses, total, "eng"), 16
        )

        async def echo(inbound: Inbound) -> None:
            await runtime.db.run(lambda s: echo_turn(runtime, inbound))

        baseline_rate = await throughput(echo, inbounds(addresses, total, "echo"), 16)
        p99 = await latency_at(runtime, inbounds(addresses, 2000, "lat"), 200.0)
        runtime.db.close()
    return {
        "engine_msgs_per_s": round(engine_rate, 1),
        "baseline_msgs_per_s": round(baseline_rate, 1),
        "ratio": round(engine_rate / baseline_rate, 3),
        "p99_ms_at_200_per_s": round(p99, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=6000)
    parser.add_argument("--students", type=int, default=500)
    args = parser.parse_args()
    figures = asyncio.run(run(args.messages, args.students))
    print(
        f"engine {figures['engine_msgs_per_s']}/s, echo baseline "
        f"{figures['baseline_msgs_per_s']}/s, p99 at 200/s {figures['p99_ms_at_200_per_s']} ms"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
