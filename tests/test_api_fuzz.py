"""Schemathesis over the OpenAPI document: generated input never gets a 5xx, and every
/api/v1 operation answers 401 without the bearer token."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from bot.app import build_runtime
from bot.clock import SystemClock
from bot.web import create_web_app
from storage.demo import seed_demo
from tests.conftest import make_settings

TOKEN = "fuzz-api-token"
EXAMPLES = 20


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    path: Path = tmp_path_factory.mktemp("fuzz") / "api.sqlite3"
    runtime = build_runtime(make_settings(f"sqlite:///{path}", api_token=TOKEN, demo_chat=True),
                            clock=SystemClock())  # fmt: skip
    runtime.db.run_sync(lambda s: seed_demo(s, runtime.clock.now()))
    yield schemathesis.openapi.from_asgi("/openapi.json", create_web_app(runtime))
    runtime.db.close()


def _operations(schema: Any) -> list[Any]:
    return [result.ok() for result in schema.get_all_operations()]


def test_generated_requests_get_no_server_error(api_schema: Any) -> None:
    operations = _operations(api_schema)
    assert len(operations) >= 15  # the whole document, not a part of it
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        def check(case: Any) -> None:
            _no_server_error(case)

        check()


def _no_server_error(case: Any) -> None:
    answer = case.call(headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code < 500, (case.method, case.formatted_path, answer.text[:300])
    if case.path.startswith("/api/v1/"):
        case.headers = {k: v for k, v in (case.headers or {}).items()
                        if k.lower() != "authorization"}  # fmt: skip
        anonymous = case.call()
        assert anonymous.status_code == 401, (case.method, case.formatted_path)
