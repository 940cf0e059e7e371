"""The engine factory (SQLite or PostgreSQL from the URL) and the transaction runner."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlmodel import Session

T = TypeVar("T")


def normalise_url(url: str) -> str:
    """Pick our drivers: pysqlite for SQLite, psycopg 3 for PostgreSQL."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


# A pooled SQLite connection's info key: aliases of attached files to detach when it returns.
DETACH_ON_CHECKIN = "mentorbot_detach_on_checkin"


def _prepare_sqlite(engine: Engine, path: str | None) -> None:
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (BEGIN IMMEDIATE below).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.execute("PRAGMA foreign_keys=ON")
        # 64 MB of page cache (the default is 2 MB): the planner's inserts into large indexes
        # otherwise read the same pages from the OS again and again (1M students: 14 -> 12 s).
        cur.execute("PRAGMA cache_size=-65536")
        cur.close()

    @event.listens_for(engine, "checkin")
    def _on_checkin(dbapi_conn: Any, record: Any) -> None:
        # Files attached inside a transaction (storage/side_query.py): SQLite cannot detach
        # them before that transaction ends, which it has by now.
        for alias in record.info.pop(DETACH_ON_CHECKIN, ()):
            dbapi_conn.execute(f"DETACH DATABASE {alias}")

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Take the write lock up front: two writers never deadlock on a lock upgrade.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def create_db_engine(url: str, *, pool_size: int = 8) -> Engine:
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"check_same_thread": False})
        _prepare_sqlite(engine, parsed.database)
        return engine
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


class Database:
    """Runs units of work off the event loop; SQLite gets exactly one writer thread."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        workers = 1 if self.dialect == "sqlite" else 8
        # SQLite transactions here take well under a millisecond and have one writer anyway:
        # running them on the event loop's own thread saves a thread hop and GIL hand-offs.
        self.inline = self.dialect == "sqlite"
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="db")

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed on success, rolled back on any error."""
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield session

    def run_sync(self, work: Callable[[Session], T]) -> T:
        with self.session() as session:
            return work(session)

    async def run(self, work: Callable[[Session], T], *, background: bool = False) -> T:
        """Run one transaction. `background` work (bulk claims, batched outcome writes) always
        goes to the worker thread, so the event loop keeps pacing sends meanwhile."""
        if self.inline and not background:
            return self.run_sync(work)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.run_sync, work)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self.engine.dispose()
