"""Migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command

from storage.migrate import alembic_config, upgrade


def test_migrations_match_the_models(database_url: str) -> None:
    upgrade(database_url)
    command.check(alembic_config(database_url))  # raises if autogenerate would change anything


def test_upgrading_twice_is_harmless(database_url: str) -> None:
    upgrade(database_url)
    upgrade(database_url)
