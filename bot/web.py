"""The FastAPI applications: the full one (health, metrics, web chat, APIs, webhooks) and a
worker's (health and metrics only)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text

from bot.app import Runtime


def create_web_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(title="mentorbot", version="0.1.0", lifespan=_lifespan(runtime))
    app.state.runtime = runtime
    app.add_exception_handler(RequestValidationError, _invalid_request)  # type: ignore[arg-type]
    for router in runtime.routers:
        app.include_router(router)
    _add_probes(app, runtime)
    return app


def create_health_app(runtime: Runtime) -> FastAPI:
    """A worker's HTTP: /healthz for the container's health check and /metrics, since the send
    counters of the messages a worker sends live in the worker. Nothing else is served."""
    app = FastAPI(title="mentorbot worker", lifespan=_lifespan(runtime),
                  openapi_url=None, docs_url=None, redoc_url=None)  # fmt: skip
    app.state.runtime = runtime
    _add_probes(app, runtime)
    return app


def _lifespan(runtime: Runtime) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    return lifespan


def _add_probes(app: FastAPI, runtime: Runtime) -> None:
    app.add_api_route("/healthz", _healthz(runtime), methods=["GET"])
    app.add_api_route("/metrics", _metrics(runtime), methods=["GET"], include_in_schema=False)


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
            "role": runtime.role.value,
            "channels": runtime.channel_status(),
        }

    return healthz


def _metrics(runtime: Runtime) -> Callable[[], object]:
    async def metrics() -> Response:
        return Response(runtime.metrics.render(), media_type="text/plain; version=0.0.4")

    return metrics
