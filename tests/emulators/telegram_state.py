"""Bookkeeping for the Telegram emulator: rate windows, injected faults and what the bot sent."""

from __future__ import annotations

import asyncio
import math
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from tests.emulators.telegram_wire import ApiError

WINDOW_SECONDS = 1.0
FAULT_KINDS = ("retry_after", "server_error", "timeout", "bad_request")


@dataclass(frozen=True, slots=True)
class SentRecord:
    """One accepted send or edit. `time` is `time.monotonic()` when it was accepted."""

    method: str
    chat_id: int
    text: str | None
    reply_markup: dict[str, Any] | None
    message_id: int
    time: float
    params: dict[str, Any] = field(repr=False, default_factory=dict)


@dataclass(frozen=True, slots=True)
class AnsweredCallback:
    callback_query_id: str
    text: str | None
    show_alert: bool
    url: str | None


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """One POST to the webhook. `status` is 0 when the connection failed."""

    update_id: int | None
    status: int
    seconds: float
    error: str | None = None


class MaxRate(NamedTuple):
    overall: int
    per_chat: int


class RateLimiter:
    """Sliding 1 s windows, overall and per chat; remembers the busiest window it saw."""

    def __init__(self, global_rate: float, per_chat_rate: float, enforce: bool) -> None:
        self.global_capacity = max(1, math.floor(global_rate))
        self.chat_capacity = max(1, math.floor(per_chat_rate))
        self.enforce = enforce
        self._overall: deque[float] = deque()
        self._per_chat: dict[int, deque[float]] = defaultdict(deque)
        self._next_sweep = 0.0
        self.max_seen = MaxRate(0, 0)
        self.violations = 0  # sends that broke a limit (answered 429 when enforcing)

    def admit(self, chat_id: int, now: float) -> None:
        """Count one send at `now`, or raise a 429 if it would break a limit."""
        chat_window = self._per_chat[chat_id]
        _prune(self._overall, now)
        _prune(chat_window, now)
        for window, capacity in ((self._overall, self.global_capacity),
                                 (chat_window, self.chat_capacity)):
            if len(window) >= capacity:
                self.violations += 1
                if self.enforce:
                    retry = max(1, math.ceil(window[0] + WINDOW_SECONDS - now))
                    raise ApiError(429, f"Too Many Requests: retry after {retry}", retry)
                break
        self._overall.append(now)
        chat_window.append(now)
        self.max_seen = MaxRate(max(self.max_seen.overall, len(self._overall)),
                                max(self.max_seen.per_chat, len(chat_window)))
        self._sweep(now)

    def _sweep(self, now: float) -> None:
        # Drop idle chats about once a second so a broadcast to many chats stays bounded.
        if now < self._next_sweep:
            return
        self._next_sweep = now + WINDOW_SECONDS
        idle = [chat for chat, window in self._per_chat.items()
                if not window or window[-1] <= now - WINDOW_SECONDS]
        for chat in idle:
            del self._per_chat[chat]


def _prune(window: deque[float], now: float) -> None:
    while window and window[0] <= now - WINDOW_SECONDS:
        window.popleft()


@dataclass(slots=True)
class Fault:
    kind: str
    remaining: int
    retry_after: int = 1
    status: int | None = None
    description: str | None = None
    deliver: bool = True
    hold: float = 120.0
    chat_id: int | None = None  # only calls to this chat (None: any)

    def error(self) -> ApiError:
        if self.kind == "retry_after":
            return ApiError(429, f"Too Many Requests: retry after {self.retry_after}",
                            self.retry_after)
        if self.kind == "bad_request":
            return ApiError(400, self.description or "Bad Request: injected failure")
        status = self.status or 500
        default = "Bad Gateway" if status == 502 else "Internal Server Error"
        return ApiError(status, self.description or default)


class FaultPlan:
    """Armed faults per method name (case-insensitive); "*" matches every method."""

    def __init__(self) -> None:
        self._armed: dict[str, deque[Fault]] = defaultdict(deque)

    def arm(self, method: str, fault: Fault) -> None:
        if fault.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {fault.kind!r}; use one of {FAULT_KINDS}")
        self._armed[method.lower()].append(fault)

    def take(self, method: str, chat_id: int | None = None) -> Fault | None:
        for key in (method.lower(), "*"):
            for fault in self._armed.get(key, ()):
                if fault.chat_id is not None and fault.chat_id != chat_id:
                    continue
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._armed[key].remove(fault)
                return fault
        return None

    def clear(self) -> None:
        self._armed.clear()


SentMatcher = int | Callable[[SentRecord], bool]


class SentLog:
    """Accepted sends, indexed by chat, with waiters that wake on each new send."""

    def __init__(self) -> None:
        self.records: list[SentRecord] = []
        self.by_chat: dict[int, list[SentRecord]] = defaultdict(list)
        self._changed = asyncio.Event()

    def add(self, record: SentRecord) -> None:
        self.records.append(record)
        self.by_chat[record.chat_id].append(record)
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_for(
        self, matcher: SentMatcher, timeout: float  # noqa: ASYNC109 - seconds, like the API
    ) -> list[SentRecord]:
        """Wait until `matcher` records exist: an int means that many sends in total."""
        checked, found = 0, []
        try:
            async with asyncio.timeout(timeout):
                while True:
                    if isinstance(matcher, int):
                        if len(self.records) >= matcher:
                            return self.records[:matcher]
                    else:
                        found += [r for r in self.records[checked:] if matcher(r)]
                        checked = len(self.records)
                        if found:
                            return found
                    await self._changed.wait()
        except TimeoutError:
            raise TimeoutError(f"no match after {timeout}s; {len(self.records)} sends seen: "
                               f"{self.records[-5:]!r}") from None
