"""In-memory stand-ins for unit tests (end-to-end tests use the real emulators instead)."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.channels.base import NOT_STARTED, Begin, SendResult
from bot.messages import Outbound


@dataclass
class RecordingSender:
    """A channel that records what it was asked to send and answers as told."""

    name: str
    sent: list[Outbound] = field(default_factory=list)
    answers: list[SendResult] = field(default_factory=list)

    async def send(self, outbound: Outbound, begin: Begin) -> SendResult:
        if not await begin():
            return NOT_STARTED
        self.sent.append(outbound)
        if self.answers:
            return self.answers.pop(0)
        return SendResult(ok=True, external_id=f"{self.name}-{outbound.delivery_id}")

    def texts_to(self, address: str) -> list[str]:
        return [o.reply.text for o in self.sent if o.address == address]
