"""Many coroutines asking for the same kind of database write in one event-loop turn share
one transaction: each submits its key and gets the whole batch's answer."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

K = TypeVar("K")
R = TypeVar("R")


class Coalescer(Generic[K, R]):
    def __init__(self, run: Callable[[list[K]], Awaitable[R]]) -> None:
        self._run = run
        self._keys: list[K] = []
        self._result: asyncio.Future[R] | None = None

    async def submit(self, key: K) -> R:
        if self._result is None:
            self._result = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().create_task(self._flush(self._result))
        result = self._result
        self._keys.append(key)
        return await asyncio.shield(result)

    async def _flush(self, result: asyncio.Future[R]) -> None:
        await asyncio.sleep(0)  # let the others asking in this loop turn join
        keys, self._keys, self._result = self._keys, [], None
        try:
            result.set_result(await self._run(keys))
        except Exception as exc:  # every waiter sees the failure
            result.set_exception(exc)
