"""Part of a large SQLite INSERT ... SELECT computed by a second process, on another core.

SQLite runs each query on one core, and two queries in threads of one process contend inside
SQLite (measured: two halves in threads took longer than the whole in one). So the planner's
largest query (every student's persona) splits by person range: a child process computes one
part into a scratch database file while the session computes the other, then those rows are
appended to the session's table. The child reads what the session reads only when the
session's transaction has written nothing yet: it holds the write lock, so nothing changes.
"""

from __future__ import annotations

import pickle
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import NullPool, create_engine
from sqlmodel import Session

from storage.database import DETACH_ON_CHECKIN
from storage.sql_params import sql

_PROJECT = Path(__file__).resolve().parent.parent  # where `storage` imports from
_CHILD = ("-m", "storage.side_query")  # the interpreter's arguments that run `_main`
log = structlog.get_logger("mentorbot.storage")


def shares_data(session: Session) -> bool:
    """Whether another process sees the session's database: a SQLite file, not memory."""
    url = session.get_bind().engine.url
    database = url.database or ""
    return (url.get_backend_name() == "sqlite" and database not in ("", ":memory:")
            and not database.startswith("file:"))


def insert_beside(session: Session, into: str, side_select: str, params: Mapping[str, Any],
                  own_part: Callable[[], None]) -> None:
    """Run `side_select` in a child process while `own_part()` runs on the session, then
    append its rows to the session's table `into` (same columns, in order). If the child
    fails, the session computes that part too, after its own."""
    database = session.get_bind().engine.url.database
    assert database is not None
    database = str(Path(database).resolve())  # the child runs elsewhere (`_PROJECT`)
    with tempfile.TemporaryDirectory(prefix="mentorbot-side-") as scratch:
        out, errors = Path(scratch) / "rows.sqlite3", Path(scratch) / "errors.txt"
        job = pickle.dumps((database, str(out), side_select, dict(params)))
        child = _start(job, errors)
        try:
            own_part()
        except BaseException:
            if child is not None:
                child.kill()
                child.wait()
            raise
        if child is not None and child.wait() == 0:
            _append(out, session, into)
            return
        # Slower, but the run still plans: that part on the session too.
        log.warning("side query failed; computing it in this process",
                    exit_code=None if child is None else child.returncode,
                    error=errors.read_text(errors="replace")[-2000:])
    session.execute(sql(f"INSERT INTO {into} {side_select}", params))


def _start(job: bytes, errors: Path) -> subprocess.Popen[bytes] | None:
    """A fresh interpreter running this module, its job sent (not multiprocessing's spawn,
    which would import the caller's main script again); None if it could not start."""
    try:
        with errors.open("wb") as stderr:
            child = subprocess.Popen([sys.executable, *_CHILD], stdin=subprocess.PIPE,
                                     stderr=stderr, cwd=_PROJECT)
    except OSError as error:
        errors.write_text(f"could not start: {error}")
        return None
    assert child.stdin is not None
    try:
        with child.stdin:
            child.stdin.write(job)
    except BrokenPipeError:
        pass  # it is gone already: its exit status says so
    return child


def _select_into_file(database: str, out: str, select: str, params: dict[str, Any]) -> None:
    """In the child: CREATE TABLE rows AS `select` in the scratch file `out`."""
    engine = create_engine(f"sqlite:///{database}", poolclass=NullPool)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA cache_size=-65536")  # as the session's connections
        conn.exec_driver_sql("ATTACH DATABASE ? AS side", (out,))
        conn.exec_driver_sql("PRAGMA side.journal_mode=OFF")  # a scratch file: no rollback
        conn.execute(sql(f"CREATE TABLE side.rows AS {select}", params))
        conn.commit()
    engine.dispose()


def _append(out: Path, session: Session, into: str) -> None:
    # Attached and read in SQL: eight times faster than through Python (500k rows: 0.27 s
    # against 1.85 s). SQLite detaches only outside the transaction that read the file, so
    # the pool does it when the connection comes back (`DETACH_ON_CHECKIN`); the file itself
    # may go before (an attached file stays readable until it is detached).
    connection = session.connection()
    alias = f"side_{secrets.token_hex(4)}"
    connection.exec_driver_sql(f"ATTACH DATABASE ? AS {alias}", (str(out),))
    connection.connection.info.setdefault(DETACH_ON_CHECKIN, []).append(alias)
    connection.exec_driver_sql(f"INSERT INTO {into} SELECT * FROM {alias}.rows")


def _main() -> None:
    """The child: its job comes pickled on stdin from its parent."""
    _select_into_file(*pickle.load(sys.stdin.buffer))


if __name__ == "__main__":
    _main()
