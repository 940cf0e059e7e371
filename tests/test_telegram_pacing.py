"""Pacing and sender outcomes on virtual time: schedules are recorded, never measured."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from aiogram.exceptions import (
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import SendMessage
from aiohttp import ClientConnectorError, ServerDisconnectedError
from aiohttp.client_reqrep import ConnectionKey
from structlog.testing import capture_logs

from bot.channels.base import always
from bot.channels.telegram_pacing import ChatPacers, Pacer
from bot.channels.telegram_sender import BACKOFF, Pacing, TelegramSender
from bot.messages import Outbound, Reply

METHOD = SendMessage(chat_id=1, text="x")


class VirtualTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += max(seconds, 0.0)
        await asyncio.sleep(0)


def max_in_window(starts: list[float], window: float = 1.0) -> int:
    return max(sum(1 for s in starts if a <= s < a + window - 1e-9) for a in starts)


async def test_starts_are_evenly_spaced_without_a_burst() -> None:
    vt = VirtualTime()
    pacer = Pacer(25, clock=vt.clock, sleep=vt.sleep)
    pacer.starts = []
    for _ in range(60):
        await pacer.acquire()
        pacer.release()
    gaps = [b - a for a, b in zip(pacer.starts, pacer.starts[1:], strict=False)]
    assert pacer.starts[0] == 0.0 and min(gaps) >= 0.04 - 1e-9
    assert max_in_window(pacer.starts) <= 25


async def test_after_idle_time_there_is_still_no_burst() -> None:
    vt = VirtualTime()
    pacer = Pacer(10, clock=vt.clock, sleep=vt.sleep)
    pacer.starts = []
    await pacer.acquire()
    pacer.release()
    vt.now = 100.0
    for _ in range(3):
        await pacer.acquire()
        pacer.release()
    assert pacer.starts == pytest.approx([0.0, 100.0, 100.1, 100.2])


async def test_slow_answers_hold_their_slot_for_a_window_after_they_arrive() -> None:
    vt = VirtualTime()
    pacer = Pacer(2, clock=vt.clock, sleep=vt.sleep)  # capacity 2 per second
    pacer.starts = []
    await pacer.acquire()
    await pacer.acquire()  # two in flight, no answers yet
    third = asyncio.create_task(pacer.acquire())
    await asyncio.sleep(0)
    assert not third.done()  # waits for an answer, not for a clock tick
    vt.now = 3.0
    pacer.release()  # first answer at t=3: its slot frees at t=4
    await third
    assert pacer.starts[-1] == 4.0


async def test_per_chat_pacing_does_not_stall_other_chats() -> None:
    vt = VirtualTime()
    chats = ChatPacers(1, clock=vt.clock, sleep=vt.sleep)
    a = chats.for_chat("a")
    await a.acquire()
    a.release()
    second_for_a = asyncio.create_task(a.acquire())
    b = chats.for_chat("b")
    await b.acquire()  # chat b goes at once while chat a waits its second
    assert vt.now == 0.0
    await second_for_a
    assert vt.now == 1.0


class FakeBot:
    """Answers send_message from a script: an exception to raise or a message id."""

    def __init__(self, *script: Any) -> None:
        self.script = list(script)
        self.calls = 0

    async def send_message(self, **_: Any) -> Any:
        self.calls += 1
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        return SimpleNamespace(message_id=step)


def sender(bot: FakeBot, vt: VirtualTime) -> TelegramSender:
    pacing = Pacing(Pacer(1000, clock=vt.clock, sleep=vt.sleep),
                    ChatPacers(1000, clock=vt.clock, sleep=vt.sleep))

    async def english(_outbound: Outbound) -> Any:
        return SimpleNamespace(_=lambda text, **_: text)

    return TelegramSender(bot, pacing, english, sleep=vt.sleep)  # type: ignore[arg-type]


def outbound(text: str = "hi") -> Outbound:
    return Outbound(1, "telegram", "42", Reply(text))


def network_error(cause: Exception) -> TelegramNetworkError:
    error = TelegramNetworkError(METHOD, f"{type(cause).__name__}")
    error.__cause__ = cause
    return error


async def test_retry_after_is_honoured_and_the_message_sent_once() -> None:
    vt = VirtualTime()
    bot = FakeBot(TelegramRetryAfter(METHOD, "Too Many Requests", 3), 7)
    result = await sender(bot, vt).send(outbound(), always)
    assert result.ok and result.external_id == "42:7" and bot.calls == 2
    assert 3 in vt.slept


async def test_blocked_user_is_unreachable_and_not_retried() -> None:
    bot = FakeBot(TelegramForbiddenError(METHOD, "Forbidden: bot was blocked by the user"))
    with capture_logs() as logs:
        result = await sender(bot, VirtualTime()).send(outbound(), always)
    assert (result.ok, result.retry, result.unreachable, bot.calls) == (False, False, True, 1)
    [failed] = [e for e in logs if e["event"] == "telegram.send_failed"]  # a failure is logged
    assert (failed["log_level"], failed["delivery"], failed["unreachable"]) == ("warning", 1, True)


async def test_server_errors_back_off_then_go_back_to_the_outbox() -> None:
    vt = VirtualTime()
    bot = FakeBot(*[TelegramServerError(METHOD, "Bad Gateway")] * 4)
    result = await sender(bot, vt).send(outbound(), always)
    assert (result.ok, result.retry, bot.calls) == (False, True, 4)
    assert [s for s in vt.slept if s in BACKOFF] == list(BACKOFF)


async def test_refused_connection_is_retried_but_a_lost_answer_is_not() -> None:
    key = ConnectionKey("h", 1, False, None, None, None, None)
    refused = network_error(ClientConnectorError(key, OSError(111, "refused")))
    ok = await sender(FakeBot(refused, 9), VirtualTime()).send(outbound(), always)
    assert ok.ok
    lost = FakeBot(network_error(ServerDisconnectedError()), 9)
    result = await sender(lost, VirtualTime()).send(outbound(), always)
    assert (result.ok, result.retry, lost.calls) == (False, False, 1)
    assert result.error and result.error.startswith("unknown outcome")


async def test_a_failure_after_the_first_part_is_not_resent() -> None:
    bot = FakeBot(1, TelegramForbiddenError(METHOD, "Forbidden: bot was blocked by the user"))
    result = await sender(bot, VirtualTime()).send(outbound("word " * 1000), always)
    assert (result.ok, result.retry, result.unreachable) == (False, False, True)
    assert result.error and result.error.startswith("partial: sent 1 of 2")
