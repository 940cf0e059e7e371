"""The FastAPI application: health, metrics, the web chat, and (later) channel webhooks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
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
    app.add_exception_handler(RequestValidationError, _invalid_request)  # type: ignore[arg-type]
    for router in runtime.routers:
        app.include_router(router)
    app.add_api_route("/healthz", _healthz(runtime), methods=["GET"])
    app.add_api_route("/metrics", _metrics(runtime), methods=["GET"], include_in_schema=False)
    return app


async def _invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 naming what is wrong, without echoing the input: it may be unencodable (a lone
    surrogate) or personal data."""
    detail = [{"type": e["type"], "loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]
    return JSONResponse({"detail": detail}, status_code=422)


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
