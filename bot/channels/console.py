"""A terminal chat: the same engine, one person, lines in and lines out."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable

from bot.engine import Engine
from bot.messages import Channel, Inbound, Outbound


def render(item: Outbound) -> str:
    lines = [item.reply.text]
    for number, choice in enumerate(item.reply.choices, start=1):
        lines.append(f"  {number}. {choice.label}")
    file = item.reply.attachment
    if file is not None:  # a terminal cannot take a file: say what it is
        lines.append(f"  [{file.name}: {len(file.data):,} bytes, {file.media_type}]")
    return "\n".join(lines)


async def chat_loop(
    engine: Engine, address: str, read: Callable[[], str | None], write: Callable[[str], None]
) -> None:
    """Read lines until EOF; numbers pick a choice, exactly as on SMS."""
    for seq in itertools.count(1):
        line = await asyncio.to_thread(read)
        if line is None:
            return
        handled = await engine.handle(Inbound(Channel.CONSOLE, address, f"{address}:{seq}", line))
        for item in handled.outbound:
            write(render(item))
