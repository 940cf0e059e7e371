"""Serve a runtime's web app with uvicorn on a free loopback port, for end-to-end tests."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn

from bot.app import Runtime
from bot.web import create_web_app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def serve(runtime: Runtime, port: int | None = None) -> AsyncIterator[str]:
    """Yields the base URL while uvicorn serves the app in this event loop."""
    port = port or free_port()
    config = uvicorn.Config(
        create_web_app(runtime), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
