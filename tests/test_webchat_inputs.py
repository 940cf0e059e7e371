"""Inputs written by others, at the web chat's HTTP API: real browsers' language headers,
unknown people, unencodable JSON. Clear statuses, never a 500."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from bot.app import build_runtime
from bot.i18n import best_language
from bot.web import create_web_app
from storage.demo import seed_demo
from tests.conftest import make_settings

SUPPORTED = ("en", "es", "hi", "ru")


@pytest.mark.parametrize(
    "header,expected",
    [
        ("es-419,es;q=0.9,en;q=0.8", "es"),
        ("fr-CA,fr;q=0.9,ru;q=0.8,en;q=0.7", "ru"),
        ("en;q=0.2, hi-IN", "hi"),
        ("de-DE,de;q=0.9", None),
        ("es;q=0, en", "en"),
        ("ru;q=abc, es", "es"),
        ("", None),
        (",,;;q=", None),
    ],
)
def test_accept_language_is_read_with_its_weights(header: str, expected: str | None) -> None:
    assert best_language(header, SUPPORTED) == expected


@pytest.fixture
def client(sqlite_url: str) -> Iterator[TestClient]:
    runtime = build_runtime(make_settings(sqlite_url, demo_chat=True))
    runtime.db.run_sync(lambda s: seed_demo(s, runtime.clock.now()))
    with TestClient(create_web_app(runtime), raise_server_exceptions=False) as test_client:
        yield test_client


def test_an_unknown_person_is_404(client: TestClient) -> None:
    answer = client.post("/chat/api/sessions", json={"person_id": 99_999})
    assert answer.status_code == 404 and "99999" in answer.json()["detail"]


def test_a_lone_surrogate_is_a_clear_422(client: TestClient) -> None:
    address = client.post("/chat/api/sessions", json={}).json()["address"]
    body = '{"address": "ADDRESS", "message_id": "1", "text": "\\ud800 hi"}'
    body = body.replace("ADDRESS", address)
    answer = client.post("/chat/api/messages", content=body,
                         headers={"content-type": "application/json"})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "text"]
    assert "input" not in answer.json()["detail"][0]  # the input is never echoed back


def test_the_browsers_language_is_used_for_a_new_visitor(client: TestClient) -> None:
    address = client.post("/chat/api/sessions", json={}).json()["address"]
    answer = client.post("/chat/api/messages",
                         json={"address": address, "message_id": "1", "text": "/help"},
                         headers={"accept-language": "es-419,es;q=0.9,en;q=0.8"})
    assert answer.json()["messages"][0]["text"].startswith("Soy tu bot mentor")
