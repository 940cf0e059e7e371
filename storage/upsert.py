"""INSERT ... ON CONFLICT DO NOTHING, the one statement that differs between our two dialects."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Table, literal_column
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert
from sqlmodel import Session


@cache
def _statement(table: Table, dialect: str) -> Insert:
    module = postgresql if dialect == "postgresql" else sqlite
    # Count with RETURNING: drivers disagree on rowcount for ON CONFLICT statements.
    return module.insert(table).on_conflict_do_nothing().returning(literal_column("1"))


def insert_ignore(
    session: Session, table: Any, rows: list[dict[str, Any]] | dict[str, Any]
) -> int:
    """Insert rows, silently skipping those that hit a unique constraint; returns rows written."""
    if not rows:
        return 0
    connection = session.connection()
    statement = _statement(table, connection.dialect.name)
    if isinstance(rows, dict):
        return len(connection.execute(statement, rows).all())
    return len(connection.execute(statement.values(rows)).all())


def dialect_insert(session: Session, table: Any) -> Any:
    """An INSERT that can take `on_conflict_do_update` on this session's dialect."""
    module = postgresql if session.connection().dialect.name == "postgresql" else sqlite
    return module.insert(table)
