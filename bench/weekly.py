"""The weekly tick for 10k students (or more) on SQLite: the plan day's worst case, when every
student's week starts (close, review, proposal), and an ordinary tick after it.

    .venv/bin/python bench/weekly.py [--students 10000]

Ticks run a minute apart until every proposal is written (at most 1,000 a tick), then one
ordinary tick a day later. The cohort is bench/planner.py's (histories, identities, 85%
consent). The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.planner import load_sqlite
from bot.i18n import Translator
from bot.settings import SUPPORTED_LOCALES, Settings
from scheduler.goal_config import load_goal_config
from scheduler.weekly import WeeklyPlanner
from storage.database import Database, create_db_engine
from storage.migrate import upgrade

# Monday 2026-11-30 12:00 UTC: the plan day (the program's Monday) in every bench zone.
PLAN_DAY = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def timed(db: Database, weekly: WeeklyPlanner, now: datetime) -> tuple[float, int]:
    started = time.perf_counter()
    written = db.run_sync(lambda s: weekly.run(s, now))
    return time.perf_counter() - started, written


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=10_000)
    students = parser.parse_args().students
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/weekly.sqlite3"
        upgrade(url)
        load_sqlite(url, students)
        settings = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]
        translator = Translator(settings.locales_dir, SUPPORTED_LOCALES)
        weekly = WeeklyPlanner(load_goal_config(), translator, "America/New_York",
                               lambda: ["telegram", "webchat", "sms"])  # fmt: skip
        db = Database(create_db_engine(url))
        ticks, now, proposals = [], PLAN_DAY, 0
        while True:  # the plan day: a tick a minute until every proposal is written
            elapsed, written = timed(db, weekly, now)
            ticks.append(elapsed)
            proposals += written
            now += timedelta(minutes=1)
            if not written:
                break
        ordinary, _ = timed(db, weekly, PLAN_DAY + timedelta(days=1))
        db.close()
    print(
        f"sqlite {students:,} students: {proposals:,} proposals in {len(ticks) - 1} ticks, "
        f"slowest tick {max(ticks):.2f}s, total {sum(ticks):.1f}s; an ordinary tick "
        f"{ordinary:.2f}s"
    )
    print(
        json.dumps(
            {
                "students": students,
                "proposals": proposals,
                "slowest_tick_s": round(max(ticks), 2),
                "total_s": round(sum(ticks), 1),
                "ordinary_tick_s": round(ordinary, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
