"""Plan nudges for 10k, 100k and 1M students with realistic histories, on SQLite and PostgreSQL.

    .venv/bin/python bench/planner.py [--sizes 10000,100000,1000000] [--engines sqlite,postgres]

Each student: enrolled 20-120 days ago, logins, classes attended or missed, an assignment
(submitted or not), sometimes a test (started, maybe completed, with a score), in a cohort of
50 that shares class and assignment refs, one of five time zones and languages, a Telegram
identity (half also SMS) and, for 85%, coaching consent. Data is loaded with executemany on
SQLite and COPY on PostgreSQL (a throwaway server); only the planner run (`Planner.run`: plan,
then render) is timed, and within it the plan transaction on its own (what the planner costs
when rendering is left to the sender that claims the rows: `Planner(render_on_claim=True)`).
On SQLite the process CPU time of the run is printed too (the database works in-process): on a
loaded machine it moves less than the wall time. The last line printed is one JSON object with
the figures: per engine and size the run's seconds, `*_plan` the plan alone, `*_cpu` CPU seconds.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.cohort import event_rows, person_rows
from bot.i18n import Translator
from bot.settings import SUPPORTED_LOCALES, Settings
from scheduler.campaigns import load_campaigns
from scheduler.planner import NudgeConfig, Planner, PlanReport
from storage.database import Database, create_db_engine
from storage.migrate import upgrade

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)  # a Wednesday: 10:00 in New York


def load_sqlite(url: str, students: int) -> None:
    import sqlite3

    conn = sqlite3.connect(url.removeprefix("sqlite:///"))
    conn.execute("PRAGMA synchronous=OFF")
    # Build the event indexes once after loading: much faster than maintaining them per row.
    indexes = [sql for (sql,) in conn.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'learning_event'"
        " AND sql IS NOT NULL AND name LIKE 'ix_%'")]
    names = conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'"
                         " AND tbl_name = 'learning_event' AND name LIKE 'ix_%'").fetchall()
    for (name,) in names:
        conn.execute(f"DROP INDEX {name}")
    for table, columns, rows in _tables(students, _sqlite_time):
        marks = ", ".join("?" * len(columns))
        conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
        conn.commit()
    for statement in indexes:
        conn.execute(statement)
    conn.execute("ANALYZE")
    conn.commit()
    conn.close()


def load_postgres(url: str, students: int) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        indexes = conn.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename ="
                               " 'learning_event' AND indexname LIKE 'ix_%'").fetchall()
        for name, _definition in indexes:
            conn.execute(f"DROP INDEX {name}")
        for table, columns, rows in _tables(students, lambda t: t.replace(tzinfo=None)):
            with conn.cursor() as cur, cur.copy(
                    f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        for _name, definition in indexes:
            conn.execute(definition)
        conn.execute("ANALYZE")


def _sqlite_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def _tables(students: int, stamp: object) -> Iterator[tuple[str, tuple[str, ...], Iterator]]:
    rng = random.Random(students)
    yield from person_rows(students, NOW, stamp, rng)
    yield "learning_event", EVENT_COLUMNS, event_rows(students, NOW, stamp, rng)


EVENT_COLUMNS = ("event_id", "person_id", "type", "occurred_at", "ref", "score", "payload",
                 "created_at")


@dataclass
class Timing:
    run: float = 0.0  # Planner.run: plan, then render
    plan: float = 0.0  # its plan transaction alone
    cpu: float = 0.0  # this process's CPU seconds during the run
    rows: int = 0


def plan(url: str) -> Timing:
    settings = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]
    db = Database(create_db_engine(url))
    translator = Translator(settings.locales_dir, SUPPORTED_LOCALES)
    planner = Planner(load_campaigns(settings.nudges.campaigns_file), translator, NudgeConfig(),
                      lambda: ["telegram", "webchat", "sms"])
    timing = Timing()
    planning = planner.plan

    def timed_plan(session: Session, now: datetime) -> PlanReport:
        begun = time.perf_counter()
        try:
            return planning(session, now)
        finally:
            timing.plan = time.perf_counter() - begun

    planner.plan = timed_plan  # type: ignore[method-assign]
    started, cpu = time.perf_counter(), time.process_time()
    report = planner.run(db, NOW)
    timing.run, timing.cpu = time.perf_counter() - started, time.process_time() - cpu
    timing.rows = report.total
    db.close()
    return timing


def run_engine(engine: str, sizes: list[int], server_url: str | None,
               figures: dict[str, object]) -> None:
    results: dict[str, float] = {}
    plans: dict[str, float] = {}
    cpus: dict[str, float] = {}
    for size in sizes:
        if engine == "sqlite":
            url = f"sqlite:///{tempfile.mkdtemp(prefix='bench-plan-')}/b.sqlite3"
        else:
            url = _fresh_database(server_url or "", f"bench_{size}")
        load_started = time.perf_counter()
        upgrade(url)
        (load_sqlite if engine == "sqlite" else load_postgres)(url, size)
        loaded = time.perf_counter() - load_started
        timing = plan(url)
        results[str(size)] = round(timing.run, 2)
        plans[str(size)] = round(timing.plan, 2)
        cpus[str(size)] = round(timing.cpu, 2)
        print(f"{engine:8} {size:>9,} students: load {loaded:6.1f}s, plan + render "
              f"{timing.run:6.2f}s (plan alone {timing.plan:6.2f}s; this process's CPU "
              f"{timing.cpu:6.2f}s), {timing.rows:,} nudges planned, peak RSS {_rss_mb():.0f} MB",
              flush=True)
    figures[engine], figures[f"{engine}_plan"], figures[f"{engine}_cpu"] = results, plans, cpus


def _fresh_database(server_url: str, name: str) -> str:
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + "/" + name


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--engines", default="sqlite,postgres")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    engines = args.engines.split(",")
    started = time.perf_counter()
    figures: dict[str, object] = {}
    if "sqlite" in engines:
        run_engine("sqlite", sizes, None, figures)
    if "postgres" in engines:
        from tests.postgres_server import postgres_server

        with postgres_server() as server_url:
            run_engine("postgres", sizes, server_url, figures)
    sqlite = figures.get("sqlite", {})
    if isinstance(sqlite, dict) and "100000" in sqlite and "1000000" in sqlite:
        figures["growth_100k_to_1m"] = round(sqlite["1000000"] / sqlite["100000"], 2)
    figures["peak_rss_mb"] = round(_rss_mb(), 1)
    figures["total_seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
