"""INSERT ... ON CONFLICT DO NOTHING, the one statement that differs between our two dialects."""

from __future__ import annotations

from typing import Any

from sqlalchemy import literal_column
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session


def insert_ignore(
    session: Session, table: Any, rows: list[dict[str, Any]] | dict[str, Any]
) -> int:
    """Insert rows, silently skipping those that hit a unique constraint; returns rows written."""
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    # Count with RETURNING: drivers disagree on rowcount for ON CONFLICT statements.
    statement = (
        module.insert(table).values(rows).on_conflict_do_nothing().returning(literal_column("1"))
    )
    return len(session.execute(statement).all())
