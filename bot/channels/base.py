"""What every outbound channel adapter offers the dispatcher."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from fastapi import APIRouter

from bot.messages import Outbound


@dataclass(frozen=True, slots=True)
class SendResult:
    """`ok` sent; otherwise `retry` says whether trying again later may work.

    `final_status` replaces "failed" for a refusal that is not a failure ("suppressed": the
    number opted out; "review": the outcome is unknown and a resend could duplicate it).
    `in_doubt` with `retry`: the call may have gone out, so the next attempt looks it up first.
    """

    ok: bool
    external_id: str | None = None
    error: str | None = None
    retry: bool = False
    unreachable: bool = False
    final_status: str | None = None
    segments: int | None = None
    encoding: str | None = None
    in_doubt: bool = False


# Called by a sender right before its provider call (after pacing): marks the delivery in
# flight. False: the lease lapsed and another process has it; return NOT_STARTED, call nothing.
Begin = Callable[[], Awaitable[bool]]
NOT_STARTED = SendResult(ok=False, error="lease lost before the call", retry=True)


async def always(*_: object) -> bool:
    """A `Begin` for sends outside the dispatcher (benchmarks, previews)."""
    return True


class ChannelSender(Protocol):
    name: str

    async def send(self, outbound: Outbound, begin: Begin) -> SendResult: ...


class Service(Protocol):
    """Something that runs in the background while the app runs (a poller, a queue drain)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass(frozen=True, slots=True)
class ChannelParts:
    sender: ChannelSender | None = None
    router: APIRouter | None = None
    service: Service | None = None
