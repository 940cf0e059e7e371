"""Sends recorded deliveries through their channel and records the outcome."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta

import structlog

from bot.channels.base import ChannelSender, SendResult
from bot.clock import Clock
from bot.messages import Outbound
from bot.metrics import Metrics
from storage.database import Database
from storage.outbox import mark_failed, mark_retry, mark_sent, pending_for, reply_from_row
from storage.people import set_reachable

log = structlog.get_logger("mentorbot.dispatch")
_RETRY_DELAY = timedelta(seconds=30)


class Dispatcher:
    def __init__(
        self, db: Database, senders: dict[str, ChannelSender], clock: Clock, metrics: Metrics
    ) -> None:
        self._db = db
        self._senders = senders
        self._clock = clock
        self._metrics = metrics
        # Deliveries being sent right now by this process: drain() must not send them again
        # (a reply still pending in the database may be waiting for its chat's rate limit).
        self._in_flight: set[int] = set()

    def register(self, sender: ChannelSender) -> None:
        self._senders[sender.name] = sender

    @property
    def channels(self) -> list[str]:
        return sorted(self._senders)

    async def deliver(self, outbound: Sequence[Outbound]) -> None:
        """The fast path for replies: send right after the turn committed, in order."""
        mine = [item for item in outbound if item.delivery_id not in self._in_flight]
        self._in_flight.update(item.delivery_id for item in mine)
        try:
            for item in mine:
                sender = self._senders.get(item.channel)
                if sender is None:
                    continue  # left pending; a sender for that channel picks it up later
                result = await self._send(sender, item)
                await self._db.run(lambda s, i=item, r=result: self._record(s, i, r))
        finally:
            self._in_flight.difference_update(item.delivery_id for item in mine)

    async def drain(self, limit: int = 200) -> int:
        """Send whatever is still pending (a crash between commit and send, a retry).

        Chats are sent to concurrently (the channel's sender paces them), each chat in order,
        so a broadcast to thousands of people goes out at the channel's full allowed rate.
        """
        sent = 0
        for channel in self._senders:
            now = self._clock.now()
            rows = await self._db.run(lambda s, c=channel, n=now: pending_for(s, c, n, limit))
            batch = [
                Outbound(
                    r.id or 0,
                    r.channel,
                    r.address,
                    reply_from_row(r.text, r.choices),
                    r.person_id,
                    r.kind,
                    dict(r.meta),
                )
                for r in rows
                if r.id not in self._in_flight
            ]
            await asyncio.gather(*(self.deliver(chat) for chat in _by_address(batch)))
            sent += len(batch)
        return sent

    async def _send(self, sender: ChannelSender, item: Outbound) -> SendResult:
        try:
            return await sender.send(item)
        except Exception as exc:  # a broken adapter must not lose the delivery
            log.exception("dispatch.send_failed", channel=item.channel, delivery=item.delivery_id)
            return SendResult(ok=False, error=repr(exc), retry=True)

    def _record(self, session: object, item: Outbound, result: SendResult) -> None:
        now = self._clock.now()
        if result.unreachable:
            set_reachable(session, item.channel, item.address, False)  # type: ignore[arg-type]
        if result.ok:
            mark_sent(session, [item.delivery_id], now, result.external_id)  # type: ignore[arg-type]
        elif result.retry:
            later = now + _RETRY_DELAY
            mark_retry(session, item.delivery_id, now, later, result.error or "retry")  # type: ignore[arg-type]
        else:
            mark_failed(session, item.delivery_id, now, result.error or "failed")  # type: ignore[arg-type]
        self._metrics.outbound(item.channel, "sent" if result.ok else "failed")


def _by_address(batch: Sequence[Outbound]) -> list[list[Outbound]]:
    chats: dict[str, list[Outbound]] = {}
    for item in batch:
        chats.setdefault(item.address, []).append(item)
    return list(chats.values())
