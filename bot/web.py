"""The FastAPI application: health, metrics, the web chat, and (later) channel webhooks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import Response
from sqlalchemy import text

from bot.app import Runtime


def create_web_app(runtime: Runtime) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(title="mentorbot", version="0.1.0", lifespan=lifespan)
    app.state.runtime = runtime
    for router in runtime.routers:
        app.include_router(router)
    app.add_api_route("/healthz", _healthz(runtime), methods=["GET"])
    app.add_api_route("/metrics", _metrics(runtime), methods=["GET"], include_in_schema=False)
    return app


def _healthz(runtime: Runtime) -> Callable[[], object]:
    async def healthz() -> dict[str, object]:
        await runtime.db.run(lambda s: s.execute(text("SELECT 1")))
        return {
            "status": "ok",
            "database": runtime.db.dialect,
            "channels": runtime.channel_status(),
        }

    return healthz


def _metrics(runtime: Runtime) -> Callable[[], object]:
    async def metrics() -> Response:
        return Response(runtime.metrics.render(), media_type="text/plain; version=0.0.4")

    return metrics
