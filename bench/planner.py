"""Plan nudges for 10k, 100k and 1M students with realistic histories, on SQLite and PostgreSQL.

    .venv/bin/python bench/planner.py [--sizes 10000,100000,1000000] [--engines sqlite,postgres]

Each student: enrolled 20-120 days ago, logins, classes attended or missed, an assignment
(submitted or not), sometimes a test (started, maybe completed, with a score), in a cohort of
50 that shares class and assignment refs, one of five time zones and languages, a Telegram
identity (half also SMS) and, for 85%, coaching consent. Data is loaded with executemany on
SQLite and COPY on PostgreSQL (a throwaway server); then the planning run is timed as the
service runs it (`Planner(render_on_claim=True).run`: the plan transaction; the rows stay
`planned`), and separately the rendering the senders then do as they claim the rows (every
planned row, a claim's worth of 500 at a time, as `Dispatcher.drain` renders them). On SQLite
the process CPU time is printed too (the database works in-process): on a loaded machine it
moves less than the wall time. The last line printed is one JSON object with the figures: per
engine and size the planning run's seconds, `*_render` the rendering at claim time, `*_cpu`
the planning run's CPU seconds; on SQLite, `*_baseline_render_in_run` times the same data planned
and rendered in one run with the personas computed in one process, as before rendering moved to
the claim and the personas were split over two processes (a baseline from the same run).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.cohort import event_rows, person_rows
from bot.i18n import Translator
from bot.settings import SUPPORTED_LOCALES, Settings
from scheduler.campaigns import load_campaigns
from scheduler.planner import SPLIT_PERSONAS_FROM, NudgeConfig, Planner
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
    run: float = 0.0  # the planning run (plan only: rendering is left to the senders)
    render: float = 0.0  # rendering every planned row, a claim's worth at a time
    cpu: float = 0.0  # this process's CPU seconds during the planning run
    rows: int = 0
    rendered: int = 0


CLAIM = 500  # rows one sender's drain claims (and renders) by default


def plan(url: str, *, render_on_claim: bool = True, split: bool = True) -> Timing:
    settings = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]
    db = Database(create_db_engine(url))
    translator = Translator(settings.locales_dir, SUPPORTED_LOCALES)
    planner = Planner(load_campaigns(settings.nudges.campaigns_file), translator, NudgeConfig(),
                      lambda: ["telegram", "webchat", "sms"], render_on_claim=render_on_claim,
                      split_personas_from=SPLIT_PERSONAS_FROM if split else None)
    timing = Timing()
    started, cpu = time.perf_counter(), time.process_time()
    report = planner.run(db, NOW)
    timing.run, timing.cpu = time.perf_counter() - started, time.process_time() - cpu
    timing.rows = report.total
    started = time.perf_counter()
    while done := db.run_sync(lambda s: planner.render(s, NOW, CLAIM)):
        timing.rendered += done
    timing.render = time.perf_counter() - started
    db.close()
    return timing


def run_engine(engine: str, sizes: list[int], server_url: str | None,
               figures: dict[str, object]) -> None:
    results: dict[str, float] = {}
    renders: dict[str, float] = {}
    cpus: dict[str, float] = {}
    baselines: dict[str, float] = {}
    for size in sizes:
        if engine == "sqlite":
            url = f"sqlite:///{tempfile.mkdtemp(prefix='bench-plan-')}/b.sqlite3"
        else:
            url = _fresh_database(server_url or "", f"bench_{size}")
        load_started = time.perf_counter()
        upgrade(url)
        (load_sqlite if engine == "sqlite" else load_postgres)(url, size)
        loaded = time.perf_counter() - load_started
        baseline = _copy(url) if engine == "sqlite" else None
        os.sync()  # the load's and the copy's writes reach the disk before, not during, the run
        timing = plan(url)
        results[str(size)] = round(timing.run, 2)
        renders[str(size)] = round(timing.render, 2)
        cpus[str(size)] = round(timing.cpu, 2)
        per_row = timing.render / max(timing.rendered, 1) * 1e6
        print(f"{engine:8} {size:>9,} students: load {loaded:6.1f}s, planning run "
              f"{timing.run:6.2f}s (this process's CPU {timing.cpu:6.2f}s), {timing.rows:,} "
              f"nudges planned; rendered at claim time: {timing.rendered:,} in "
              f"{timing.render:6.2f}s ({per_row:.0f} us a row); peak RSS {_rss_mb():.0f} MB"
              f" (its child's {_child_rss_mb():.0f} MB)",
              flush=True)
        if baseline is not None:
            # The same data planned as at the start (rendering in the run, the personas in
            # one process): a baseline taken on this machine in this run, as its speed varies
            # from hour to hour.
            before = plan(baseline, render_on_claim=False, split=False)
            Path(baseline.removeprefix("sqlite:///")).unlink()
            baselines[str(size)] = round(before.run, 2)
            print(f"{'':8} {'':9}  baseline: planning and rendering in the run, in one process "
                  f"{before.run:6.2f}s; ratio {timing.run / before.run:.2f}", flush=True)
    figures[engine], figures[f"{engine}_render"], figures[f"{engine}_cpu"] = (
        results, renders, cpus)
    if baselines:
        figures[f"{engine}_baseline_render_in_run"] = baselines


def _copy(url: str) -> str:
    """A copy of a loaded SQLite database, for the baseline."""
    import shutil

    source = url.removeprefix("sqlite:///")
    shutil.copyfile(source, source + ".baseline")
    return f"sqlite:///{source}.baseline"


def _fresh_database(server_url: str, name: str) -> str:
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + "/" + name


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child_rss_mb() -> float:
    """The largest child process's peak (SQLite's planner computes half of the personas in
    one, beside this process)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


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
    figures["peak_rss_child_mb"] = round(_child_rss_mb(), 1)
    figures["total_seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
