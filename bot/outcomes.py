"""Records send outcomes in batches: senders finishing together share one transaction."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import structlog
from sqlmodel import Session

from bot.channels.base import SendResult
from bot.clock import Clock
from bot.messages import Outbound
from bot.metrics import Metrics
from storage.database import Database
from storage.erasure import FORGET_AFTER_SEND, forget_sent
from storage.outbox import drop_attachments, mark_failed, mark_retry, mark_sent_many, set_encoding
from storage.people import set_reachable

log = structlog.get_logger("mentorbot.outcomes")
# Channels whose acceptance is the delivery (no later receipt): the lifecycle's "delivered".
ACCEPTED_IS_DELIVERED = frozenset({"telegram", "webchat", "console"})


@dataclass
class _Batch:
    done: asyncio.Future[None]
    items: list[tuple[Outbound, SendResult]] = field(default_factory=list)
    writer: asyncio.Task[None] | None = None


class OutcomeRecorder:
    """`record()` returns once the outcome is committed; concurrent calls are written together."""

    def __init__(self, db: Database, clock: Clock, metrics: Metrics) -> None:
        self._db = db
        self._clock = clock
        self._metrics = metrics
        self._open: _Batch | None = None

    async def record(self, item: Outbound, result: SendResult) -> None:
        batch = self._open or self._start_batch()
        batch.items.append((item, result))
        await asyncio.shield(batch.done)

    def _start_batch(self) -> _Batch:
        loop = asyncio.get_running_loop()
        batch = _Batch(loop.create_future())
        self._open = batch
        batch.writer = loop.create_task(self._flush(batch))
        return batch

    async def _flush(self, batch: _Batch) -> None:
        await asyncio.sleep(0)  # let senders finishing in this loop turn join the batch
        self._open = None
        try:
            await self._db.run(lambda s: self._write(s, batch.items), background=True)
        except Exception:
            # One bad row must not lose the others' outcomes: write them one by one.
            log.exception("outcomes.batch_failed", size=len(batch.items))
            await self._write_singly(batch)
        else:
            batch.done.set_result(None)

    async def _write_singly(self, batch: _Batch) -> None:
        failure: Exception | None = None
        for item in batch.items:
            try:
                await self._db.run(lambda s, i=item: self._write(s, [i]), background=True)
            except Exception as exc:
                failure = exc
                log.exception("outcomes.write_failed", delivery=item[0].delivery_id)
        if failure is None:
            batch.done.set_result(None)
        else:
            batch.done.set_exception(failure)

    def _write(self, session: Session, items: list[tuple[Outbound, SendResult]]) -> None:
        now = self._clock.now()
        sent = [(i.delivery_id, r.external_id, i.channel in ACCEPTED_IS_DELIVERED)
                for i, r in items if r.ok]
        mark_sent_many(session, sent, now)
        finished = [i for i, r in items if r.ok or not r.retry]
        forget_sent(session, [i.delivery_id for i in finished if i.meta.get(FORGET_AFTER_SEND)])
        # The web chat's page fetches its files from the outbox, so those stay (until retention).
        drop_attachments(session, [i.delivery_id for i in finished
                                   if i.reply.attachment and i.channel != "webchat"])  # fmt: skip
        for item, result in items:
            if result.ok and result.segments is not None:
                set_encoding(session, item.delivery_id, result.segments, result.encoding)
            if result.unreachable:
                set_reachable(session, item.channel, item.address, False)
            if not result.ok and result.retry:
                error = result.error or "retry"
                mark_retry(session, item.delivery_id, now, error, in_doubt=result.in_doubt)
            elif not result.ok:
                status = result.final_status or "failed"
                mark_failed(session, item.delivery_id, now, result.error or status, status)
            self._metrics.outbound(item.channel, "sent" if result.ok else "failed")
