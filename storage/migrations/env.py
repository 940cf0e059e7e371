"""Alembic environment: our metadata, batch mode on SQLite (it lacks most ALTERs)."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import storage.tables  # noqa: F401  (registers the tables on the metadata)
from storage.database import create_db_engine

config = context.config
target_metadata = SQLModel.metadata
MIGRATION_LOCK = 0x6D6967726174  # "migrat": one migrating process at a time on PostgreSQL


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_db_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection: object) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # type: ignore[attr-defined]
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":  # type: ignore[attr-defined]
            # Processes starting together (a web and workers) migrate one at a time: the
            # others wait here, then find the schema current. (SQLite: BEGIN IMMEDIATE.)
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")  # type: ignore[attr-defined]
        context.run_migrations()


run_migrations()
