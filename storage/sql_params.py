"""Typed bound parameters for hand-written SQL that must behave the same on both engines.

SQLite keeps our instants as text, so a datetime must be bound through `UTCDateTime` to compare
correctly with stored values (the driver's own adapter drops zero microseconds). Lists and
tuples become expanding `IN (...)` parameters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import TextClause, bindparam, text

from storage.types import UTCDateTime


def sql(statement: str, params: Mapping[str, Any]) -> TextClause:
    """`text(statement)` with every parameter it uses bound by its Python type."""
    binds = []
    for name, value in params.items():
        if not re.search(rf":{name}\b", statement):
            continue  # shared parameter dicts may hold more than one statement needs
        if isinstance(value, datetime):
            binds.append(bindparam(name, value, type_=UTCDateTime()))
        elif isinstance(value, list | tuple | frozenset | set):
            binds.append(bindparam(name, list(value), expanding=True))
        else:
            binds.append(bindparam(name, value))
    return text(statement).bindparams(*binds)


def values_table(name: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]],
                 params: dict[str, Any]) -> str:
    """A derived table of literal rows (`SELECT ... UNION ALL ...`), with bound values.

    Portable across SQLite and PostgreSQL, unlike `VALUES` with column aliases. Adds the
    parameters to `params`; an empty row list yields a table with no rows.
    """
    selects = []
    for i, row in enumerate(rows):
        parts = []
        for column, value in zip(columns, row, strict=True):
            key = f"{name}_{column}_{i}"
            params[key] = value
            parts.append(f":{key} AS {column}")
        selects.append("SELECT " + ", ".join(parts))
    if not selects:
        nulls = ", ".join(f"NULL AS {c}" for c in columns)
        selects = [f"SELECT {nulls} WHERE 1 = 0"]
    return "(" + " UNION ALL ".join(selects) + f") {name}"
