"""Shared fixtures: settings on a temp SQLite file, a real PostgreSQL server, a fake clock."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from bot.clock import FakeClock
from bot.settings import Settings
from storage.database import Database, create_db_engine
from storage.migrate import upgrade
from tests.postgres_server import find_bindir, postgres_server

START = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # a Monday, 10:00 in New York


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    url = os.environ.get("MENTORBOT_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    if find_bindir() is None:
        if os.environ.get("CI"):
            pytest.fail("CI must run the PostgreSQL tests: PostgreSQL is not installed")
        pytest.skip("PostgreSQL is not installed here (`.ci/run` installs it)")
    with postgres_server() as server_url:
        yield server_url


def _fresh_postgres_database(server_url: str) -> str:
    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on SQLite and on a real PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/test.sqlite3"
    return _fresh_postgres_database(request.getfixturevalue("postgres_server_url"))


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """A migrated database on SQLite and on PostgreSQL, for repository tests."""
    upgrade(database_url)
    database = Database(create_db_engine(database_url))
    yield database
    database.close()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/test.sqlite3"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


def make_settings(database_url: str, **overrides: object) -> Settings:
    base: dict[str, object] = {
        "environment": "test",
        "database_url": database_url,
        "demo_seed": False,
        "scheduler": {"enabled": False},
        "consent": {"eligible_programs": ["microbachelors-cs"]},
    }
    base.update(overrides)
    return Settings(_env_file=None, **base)  # type: ignore[call-arg]
