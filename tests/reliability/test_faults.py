"""Faults: the emulators answer about 10% of sends with a 429, a 5xx or a timeout (the answer held
past the client's timeout, the message delivered or not), over real HTTP. Every delivery must end
sent, or failed (or held for review) with a reason; none stuck; nothing sent twice; a delivery
recorded as sent really arrived; and the limits hold: Telegram's emulator never had to refuse a
send for its own rate limits (its 429s are all injected ones) and never saw more than its limits
in any second; Twilio never got a create ahead of the sender's rate (its `rate_violations`).

The clock is a fake one: between drains it moves an hour on, past any retry's back-off.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.clock import FakeClock
from bot.messages import Reply
from storage.outbox import add_replies
from storage.tables import Delivery
from tests.conftest import START
from tests.emulators.telegram_state import Fault, FaultPlan
from tests.reliability.conftest import Report, sized
from tests.reliability.tally import (
    SENT,
    drain_until_final,
    ending,
    logged_exceptions,
    max_in_window,
)
from tests.sms_world import OUR_NUMBER, sms_world
from tests.telegram_world import telegram_world

FAULT_RATE = 0.10
ROUNDS = 14  # drains; MAX_ATTEMPTS retries end in "failed" well before
# A drain of the full size takes about a minute (Telegram: 25/s); past this it hangs.
DRAIN_DEADLINE = sized(30, 300)
NOON_NY = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)
LOST_ANSWER = ("timeout_after_create", "drop_after_create")
SMS_RATE = 25.0  # creates per second the bot may make (MENTORBOT_TWILIO__RATE_PER_SECOND)


class RandomFaults(FaultPlan):
    """Fails about `rate` of the calls of `methods` with a random fault: 429 (retry after 1 s),
    500 or 502, or a timeout (the answer held past the bot's 1 s timeout; the message
    delivered or not). Faults armed the usual way still come first."""

    def __init__(self, rng: random.Random, rate: float, methods: set[str]) -> None:
        super().__init__()
        self._rng, self._rate, self._methods = rng, rate, methods
        self.injected: Counter[str] = Counter()

    def take(self, method: str, *args: Any, **kwargs: Any) -> Fault | None:
        armed = super().take(method, *args, **kwargs)
        if armed is not None or method.lower() not in self._methods:
            return armed
        if self._rng.random() >= self._rate:
            return None
        kind = self._rng.choice(["retry_after", "server_error", "server_error", "timeout"])
        if kind == "server_error":
            status = self._rng.choice([500, 502])
            self.injected[f"http_{status}"] += 1
            return Fault(kind, 1, status=status)
        if kind == "timeout":
            deliver = self._rng.random() < 0.5
            self.injected["timeout_delivered" if deliver else "timeout_lost"] += 1
            return Fault(kind, 1, deliver=deliver, hold=1.5)
        self.injected["http_429"] += 1
        return Fault(kind, 1, retry_after=1)


async def test_telegram_sends_under_faults_end_sent_or_failed(
    tmp_path: Path, report: Report
) -> None:
    total, chats_n = sized(100, 1500), sized(60, 600)
    rng = random.Random(f"telegram-faults-{total}")
    clock = FakeClock(START)
    async with telegram_world(f"sqlite:///{tmp_path}/tg.sqlite3", "webhook", clock) as world:
        emu = world.emu
        faults = RandomFaults(rng, FAULT_RATE, {"sendmessage"})
        emu.faults = faults
        chats = [world.new_user_id() for _ in range(chats_n)]
        for chat in chats:
            emu.register_chat(chat)
        texts = {f"reliability message {i:05d}": chats[i % chats_n] for i in range(total)}

        def queue(session: Any) -> list[int]:
            ids = []
            for text, chat in texts.items():
                [out] = add_replies(session, person_id=None, channel="telegram",
                                    address=str(chat), replies=[Reply(text)], now=clock.now(),
                                    kind="reply")  # fmt: skip
                ids.append(out.delivery_id)
            return ids

        ids = world.runtime.db.run_sync(queue)
        with logged_exceptions() as logs:
            drained = await drain_until_final(
                world.runtime.db, lambda: world.runtime.dispatcher.drain(limit=10_000),
                clock.advance, ids, ROUNDS, deadline=DRAIN_DEADLINE)  # fmt: skip
        end = ending(world.runtime.db, ids)
        received = Counter(r.text for r in emu.sent if r.text in texts)
        rows = world.runtime.db.run_sync(lambda s: list(s.execute(
            select(Delivery.text, Delivery.status).where(Delivery.id.in_(ids))).all()))  # type: ignore[union-attr]
        violations = emu.limiter.violations  # sends over a limit (each answered 429)
        most = emu.max_rate_seen()
    lost = sum(1 for text, status in rows if status in SENT and received[text] == 0)
    duplicated = sum(n - 1 for n in received.values() if n > 1)
    report("faults-telegram", deliveries=total, injected=sum(faults.injected.values()),
           kinds="/".join(f"{k}:{n}" for k, n in sorted(faults.injected.items())),
           ended=end.line(), lost=lost, duplicated=duplicated, stuck=end.stuck,
           without_reason=end.without_reason, limit_violations=violations,
           max_per_second=most.overall, max_per_chat_second=most.per_chat,
           exceptions=len(logs), rounds=drained.rounds,
           hung=drained.hung)  # fmt: skip
    assert not drained.hung, "a drain hung: sends stopped moving"
    assert sum(faults.injected.values()) > 0
    assert end.stuck == 0 and end.without_reason == 0, end.statuses
    assert set(end.statuses) <= {"sent", "delivered", "failed", "review"}, end.statuses
    assert lost == 0 and duplicated == 0
    assert violations == 0, "the bot went over Telegram's limits"
    assert most.overall <= 30 and most.per_chat <= 1, most
    assert logs == []


def random_twilio_faults(emu: Any, rng: random.Random, rate: float) -> Counter[str]:
    """About `rate` of the creates fail: a 429 or a 500 before anything is created (35% of
    the faults each), or the message is created and then its answer is held past the client's
    timeout or its connection dropped (30%). The emulator asks `take_fault("429")`, then
    `take_fault("500")` in the same step of the same create, then after creating it
    `take_fault("timeout_after_create", "drop_after_create")`."""
    original = emu.take_fault
    injected: Counter[str] = Counter()
    server_error_next = [False]
    after_create = 0.30 * rate / (1 - 0.70 * rate)  # of the creates that got that far

    def take_fault(*kinds: str) -> str | None:
        found = original(*kinds)
        if found is not None:
            return found
        kind: str | None = None
        if kinds == ("429",):
            roll = rng.random()
            kind = "429" if roll < 0.35 * rate else None
            server_error_next[0] = 0.35 * rate <= roll < 0.70 * rate
        elif kinds == ("500",) and server_error_next[0]:
            server_error_next[0], kind = False, "500"
        elif kinds == LOST_ANSWER and rng.random() < after_create:
            kind = rng.choice(kinds)
        if kind is not None:
            injected[kind] += 1
        return kind

    emu.take_fault = take_fault
    return injected


async def test_sms_sends_under_faults_end_sent_or_failed(tmp_path: Path, report: Report) -> None:
    total = sized(100, 1500)
    rng = random.Random(f"sms-faults-{total}")
    clock = FakeClock(NOON_NY)
    twilio = {"rate_per_second": SMS_RATE, "timeout_seconds": 0.5, "backoff_seconds": 0.05}
    async with sms_world(f"sqlite:///{tmp_path}/sms.sqlite3", clock, twilio=twilio) as world:
        emu = world.emu
        emu.hold_seconds = 1.0  # a held answer outlasts the client's 0.5 s timeout
        emu.sender_rates[OUR_NUMBER] = SMS_RATE  # our number's rate, as Twilio counts it
        injected = random_twilio_faults(emu, rng, FAULT_RATE)
        bodies = {f"Reliability message {i:05d}.": f"+1212{5_550_000 + i % 400:07d}"
                  for i in range(total)}  # fmt: skip

        def queue(session: Any) -> list[int]:
            ids = []
            for body, phone in bodies.items():
                [out] = add_replies(session, person_id=None, channel="sms", address=phone,
                                    replies=[Reply(body)], now=clock.now())  # fmt: skip
                ids.append(out.delivery_id)
            return ids

        ids = world.db(queue)
        with logged_exceptions() as logs:
            drained = await drain_until_final(
                world.runtime.db, lambda: world.runtime.dispatcher.drain(limit=10_000),
                clock.advance, ids, ROUNDS, deadline=DRAIN_DEADLINE)  # fmt: skip
        end = ending(world.runtime.db, ids)
        created = [m for m in emu.messages if m.body in bodies]
        received = Counter(m.body for m in created)
        rows = world.db(lambda s: list(s.execute(
            select(Delivery.text, Delivery.status, Delivery.external_id)
            .where(Delivery.id.in_(ids))).all()))  # type: ignore[union-attr]  # fmt: skip
        sids = {m.sid for m in created}
        most = max_in_window(m.queued_at for m in created)
        violations = emu.counters["rate_violations"]  # creates ahead of the sender's rate
    lost = sum(1 for text, status, sid in rows
               if status in SENT and (received[text] == 0 or sid not in sids))  # fmt: skip
    duplicated = sum(n - 1 for n in received.values() if n > 1)
    report("faults-sms", deliveries=total, injected=sum(injected.values()),
           kinds="/".join(f"{k}:{n}" for k, n in sorted(injected.items())),
           ended=end.line(), lost=lost, duplicated=duplicated, stuck=end.stuck,
           without_reason=end.without_reason, limit_violations=violations,
           max_creates_per_second=most,
           rate=SMS_RATE, exceptions=len(logs), rounds=drained.rounds,
           hung=drained.hung)  # fmt: skip
    assert not drained.hung, "a drain hung: sends stopped moving"
    assert sum(injected.values()) > 0
    assert end.stuck == 0 and end.without_reason == 0, end.statuses
    assert set(end.statuses) <= {"sent", "delivered", "failed", "review"}, end.statuses
    assert lost == 0 and duplicated == 0
    assert violations == 0, f"creates ahead of {SMS_RATE}/s (most in a second: {most})"
    assert logs == []
