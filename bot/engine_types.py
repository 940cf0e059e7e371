"""What the engine answers for one inbound message."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.messages import Outbound


@dataclass(frozen=True, slots=True)
class Handled:
    duplicate: bool
    outbound: list[Outbound] = field(default_factory=list)
    person_id: int | None = None
