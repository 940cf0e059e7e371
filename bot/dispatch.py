"""Sends recorded deliveries through their channel, after the send-time policy allows it.

Two ways in: `deliver()` right after a turn committed (replies: the fast path) and `drain()` from
the scheduler tick (everything due: nudges, held messages, retries). A drain first renders a
batch of planned nudges (`Renderer`: words, send time, link), so that planning stays cheap and
rendering keeps pace with sending. Both lease their rows first
(status "claimed"), so a row is never sent by both; both ask the same `SendPolicy` at the moment
of sending. Just before its provider call a row is marked in flight ("sending"), one by one, so
a crash leaves few rows in doubt; leases of a process that died are taken up again
(`storage/claims.py`: at start-up on SQLite, once lapsed on PostgreSQL).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Protocol

import structlog
from sqlalchemy import select
from sqlmodel import Session

from bot.channels.base import ChannelSender, SendResult
from bot.clock import Clock
from bot.coalesce import Coalescer
from bot.locks import KeyedLocks
from bot.messages import Outbound
from bot.metrics import Metrics
from bot.outcomes import OutcomeRecorder
from core.delivery import PROACTIVE_KINDS
from scheduler.policy import Decision, SendPolicy
from storage import claims
from storage.database import Database
from storage.outbox import outbound_from_row
from storage.tables import Delivery

log = structlog.get_logger("mentorbot.dispatch")
_PARALLEL_RECIPIENTS = 64


class Renderer(Protocol):
    """Renders up to `limit` planned nudges (scheduler/planner.py `Planner.render`)."""

    def render(self, session: Session, now: datetime, limit: int) -> int: ...


class Dispatcher:
    def __init__(
        self,
        db: Database,
        senders: dict[str, ChannelSender],
        clock: Clock,
        metrics: Metrics,
        policy: SendPolicy | None = None,
        owner: str | None = None,
        claim_batch: int = 500,
        leases: tuple[timedelta, timedelta] = (claims.CLAIM_LEASE, claims.SEND_LEASE),
    ) -> None:
        self._db = db
        # Names this process on the rows it leases (host, pid and a random part: pids repeat).
        self.claim_batch = claim_batch  # rows one drain leases (other processes take the rest)
        self._claim_lease, self._send_lease = leases
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._senders = senders
        self._clock = clock
        self._metrics = metrics
        self.policy = policy or SendPolicy()
        self._outcomes = OutcomeRecorder(db, clock, metrics)
        self._recipients = KeyedLocks()
        self._stopping = False
        self._starts: Coalescer[int, set[int]] = Coalescer(self._start_sending)
        self._one_call: dict[str, asyncio.Lock] = {}
        self._renderer: Renderer | None = None

    def render_with(self, renderer: Renderer) -> None:
        """Planned nudges are rendered by each drain, a claim's worth at a time."""
        self._renderer = renderer

    def register(self, sender: ChannelSender) -> None:
        self._senders[sender.name] = sender

    @property
    def channels(self) -> list[str]:
        return sorted(self._senders)

    def stop_sending(self) -> None:
        """Shutting down: start no new provider call. Sends in flight finish and are recorded;
        rows claimed but not yet sent go back to pending for another process (or the next
        start), instead of waiting out a batch that could take minutes at the rate limits."""
        self._stopping = True

    async def recover(self, *, started_before: datetime | None = None) -> claims.Recovered:
        """Take up the rows of processes that died (see `claims.recover_abandoned`)."""
        found = await self._db.run(
            lambda s: claims.recover_abandoned(s, self._clock.now(), started_before=started_before)
        )
        if found.unstarted or found.in_doubt:
            log.warning("dispatch.recovered", unstarted=found.unstarted, in_doubt=found.in_doubt)
        return found

    async def deliver(self, outbound: Sequence[Outbound]) -> None:
        """The fast path: send a turn's replies now, in order.

        Replies the turn already judged and claimed (`admitted`) go straight out; anything
        else is claimed and judged here first.
        """
        ready = [o for o in outbound if o.channel in self._senders]
        unjudged = [o for o in ready if not o.admitted]
        allowed_ids: set[int] = set()
        if unjudged:
            allowed = await self._db.run(lambda s: self._judge_claimed(s, unjudged))
            allowed_ids = {o.delivery_id for o in allowed}
        await self._send_all([o for o in ready if o.admitted or o.delivery_id in allowed_ids])

    async def drain(self, limit: int | None = None) -> int:
        """Send whatever is due: nudges, held messages that may go now, retries."""
        if self._stopping:  # claiming now would only put the rows back
            return 0
        limit = limit or self.claim_batch
        now = self._clock.now()
        allowed = await self._db.run(lambda s: self._claim_and_judge(s, limit), background=True)
        await self._send_all(allowed)
        log.debug("dispatch.drained", sent=len(allowed), at=now.isoformat())
        return len(allowed)

    def _judge_claimed(self, session: Session, items: Sequence[Outbound]) -> list[Outbound]:
        now = self._clock.now()
        mine = claims.claim_ids(session, [o.delivery_id for o in items], now, self.owner)
        rows = _rows(session, mine)
        allowed = self._judge(session, rows)
        return [o for o in items if o.delivery_id in allowed]

    def _claim_and_judge(self, session: Session, limit: int) -> list[Outbound]:
        now = self._clock.now()
        claims.recover_abandoned(
            session, now, claim_lease=self._claim_lease, send_lease=self._send_lease
        )
        if self._renderer is not None:
            self._render(self._renderer, session, now, limit)
        rows = claims.claim_due(session, now, limit, self.channels, self.owner)
        allowed = self._judge(session, rows)
        return [outbound_from_row(r) for r in rows if (r.id or 0) in allowed]

    @staticmethod
    def _render(renderer: Renderer, session: Session, now: datetime, limit: int) -> None:
        """Render planned nudges; a row that cannot be rendered must not stop the sending."""
        try:
            with session.begin_nested():
                renderer.render(session, now, limit)
        except Exception:
            log.exception("dispatch.render_failed")

    def _judge(self, session: Session, rows: Sequence[Delivery]) -> set[int]:
        """Apply the policy: returns the ids that may go now; holds and suppressions are saved."""
        now = self._clock.now()
        facts = claims.facts_for(session, rows, now)
        allowed: set[int] = set()
        sent_now: dict[int, int] = {}  # nudges allowed in this batch count toward the cap
        for row in sorted(rows, key=_judging_order):
            fact = facts[row.id or 0]
            if row.kind == "nudge" and row.person_id is not None:
                extra = sent_now.get(row.person_id, 0)
                fact = replace(fact, nudges_today=fact.nudges_today + extra)
            verdict = self.policy.verdict(fact, now)
            if verdict.decision is Decision.SEND:
                allowed.add(row.id or 0)
                if row.kind == "nudge" and row.person_id is not None and not fact.cap_exempt:
                    sent_now[row.person_id] = sent_now.get(row.person_id, 0) + 1
            elif verdict.decision is Decision.HOLD:
                claims.hold(session, row.id or 0, now, verdict.until, verdict.reason)
            else:
                claims.suppress(session, row.id or 0, now, verdict.reason)
                self._metrics.outbound(row.channel, "suppressed")
        return allowed

    async def _send_all(self, items: Sequence[Outbound]) -> None:
        """One recipient's messages stay in order, also across calls (a FIFO lock per
        recipient); different recipients go concurrently."""
        queues: dict[tuple[str, str], list[Outbound]] = {}
        for item in items:
            queues.setdefault((item.channel, item.address), []).append(item)
        gate = asyncio.Semaphore(_PARALLEL_RECIPIENTS)
        unsent: list[int] = []

        async def run(key: tuple[str, str], queue: list[Outbound]) -> None:
            async with self._recipients.hold(key), gate:
                for item in queue:
                    if self._stopping or not await self._send_one(item):
                        unsent.append(item.delivery_id)

        await asyncio.gather(*(run(key, queue) for key, queue in queues.items()))
        if unsent:
            log.info("dispatch.released_on_stop", count=len(unsent))
            await self._db.run(
                lambda s: claims.release(s, unsent, self._clock.now(), self.owner)
            )

    async def _send_one(self, item: Outbound) -> bool:
        """False: not started because the process is stopping (the caller releases it)."""
        sender = self._senders[item.channel]
        # A channel with no way to look a call up after a crash (Telegram) makes one call at a
        # time per process, recorded before the next: a crash leaves at most one in doubt.
        one_call = self._one_call_lock(sender)
        state = {"began": False, "lost": False, "stopped": False}

        async def begin() -> bool:
            if one_call is not None:
                await one_call.acquire()
            if self._stopping:
                state["stopped"] = True
            elif item.delivery_id in await self._starts.submit(item.delivery_id):
                state["began"] = True
            else:
                state["lost"] = True
            if not state["began"] and one_call is not None:
                one_call.release()
            return state["began"]

        try:
            try:
                result = await sender.send(item, begin)
            except Exception as exc:  # a broken adapter must not lose the delivery
                log.exception(
                    "dispatch.send_failed", channel=item.channel, delivery=item.delivery_id
                )
                result = SendResult(ok=False, error=repr(exc), retry=True)
            if state["stopped"]:
                return False
            if state["lost"]:  # the lease lapsed and another process has the row now
                log.warning("dispatch.lease_lost", delivery=item.delivery_id)
            else:
                await self._outcomes.record(item, result)
            return True
        finally:
            if state["began"] and one_call is not None:
                one_call.release()

    def _one_call_lock(self, sender: ChannelSender) -> asyncio.Lock | None:
        if not getattr(sender, "one_call_at_a_time", False):
            return None
        return self._one_call.setdefault(sender.name, asyncio.Lock())

    async def _start_sending(self, ids: list[int]) -> set[int]:
        return await self._db.run(lambda s: self._judged_start(s, ids))

    def _judged_start(self, session: Session, ids: list[int]) -> set[int]:
        """Judged once more at the call itself: a STOP, a pause or quiet hours that came after
        the claim still hold the row back (suppressed or held, and not called)."""
        now = self._clock.now()
        rows = [r for r in _rows(session, set(ids)) if claims.leased_to(r, self.owner)]
        go = [r.id or 0 for r in rows if not _may_change_after_claim(r)]
        rows = [r for r in rows if _may_change_after_claim(r)]
        facts = claims.facts_for(session, rows)
        for row in rows:
            verdict = self.policy.verdict(facts[row.id or 0], now)
            if verdict.decision is Decision.SEND:
                go.append(row.id or 0)
            elif verdict.decision is Decision.HOLD:
                claims.hold(session, row.id or 0, now, verdict.until, verdict.reason)
            else:
                claims.suppress(session, row.id or 0, now, verdict.reason)
                self._metrics.outbound(row.channel, "suppressed")
        return claims.start_sending(session, go, now, self.owner)


def _may_change_after_claim(row: Delivery) -> bool:
    """Whether the policy's verdict on a claimed row can change before its call. Not for an
    answer in a chat (no consent purpose, no expiry): a STOP, a PAUSE, quiet hours or a mentor
    taking over concern proactive messages and SMS only; a blocked chat answers 403 anyway."""
    return (row.channel == "sms" or row.kind in PROACTIVE_KINDS or row.purpose is not None
            or row.expires_at is not None)


def _judging_order(row: Delivery) -> tuple[int, int]:
    """Replies first, then nudges by campaign priority: under a cap the higher one wins."""
    if row.kind != "nudge":
        return (-1_000, row.id or 0)
    return (-int(row.meta.get("priority", 0)), row.id or 0)


def _rows(session: Session, ids: set[int]) -> list[Delivery]:
    if not ids:
        return []
    query = select(Delivery).where(Delivery.id.in_(ids)).order_by(Delivery.id)  # type: ignore[union-attr]
    return list(session.execute(query).scalars())
