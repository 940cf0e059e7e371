"""`mentorbot import events|students FILE.csv` and `mentorbot nudges preview --at ...`.

Imports commit one transaction per batch of `BATCH` rows: a crash loses at most the batch in
flight, never half of one, and running the same file again is safe (events are idempotent by
id, students are upserted by LMS id).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlmodel import Session

from bot.settings import Settings

BATCH = 1_000
import_app = typer.Typer(help="Import learning events or students from CSV files.",
                         no_args_is_help=True)
nudges_app = typer.Typer(help="Nudge campaigns: preview what would go out.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)
Ingest = Callable[[Session, list[dict[str, Any]], datetime, int], Any]


def _batches(path: Path) -> Iterator[list[dict[str, Any]]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        batch: list[dict[str, Any]] = []
        for row in csv.DictReader(handle):
            batch.append({k: v for k, v in row.items() if v not in ("", None)})
            if len(batch) == BATCH:
                yield batch
                batch = []
        if batch:
            yield batch


def _run_import(path: Path, ingest: Ingest, shape: Callable[[dict[str, Any]], dict[str, Any]]
                ) -> None:
    from bot.app import prepare_database
    from bot.clock import SystemClock

    if not path.exists():
        raise typer.BadParameter(f"{path} does not exist")
    total = max(0, sum(1 for _ in path.open(encoding="utf-8-sig")) - 1)
    db = prepare_database(Settings(demo_seed=False), SystemClock())
    stored, duplicates, rejected, first = 0, 0, [], 2  # line 1 is the header
    with Progress(console=err) as progress:
        task = progress.add_task(f"Importing {path.name}", total=total)
        for batch in _batches(path):
            rows = [shape(r) for r in batch]
            now = datetime.now(UTC)
            outcome = db.run_sync(lambda s, r=rows, n=now, f=first: ingest(s, r, n, f))
            stored, duplicates = stored + outcome.stored, duplicates + outcome.duplicates
            rejected += outcome.rejected
            first += len(batch)
            progress.advance(task, len(batch))
    db.close()
    _report(stored, duplicates, rejected)


def _report(stored: int, duplicates: int, rejected: list[dict[str, Any]]) -> None:
    out.print(f"Stored {stored}, already there {duplicates}, rejected {len(rejected)}.")
    if rejected:
        table = Table("line", "id", "reasons", title="Rejected rows")
        for item in sorted(rejected, key=lambda r: r["index"])[:200]:
            table.add_row(str(item["index"]), str(item["id"]), "; ".join(item["reasons"]))
        out.print(table)
        raise typer.Exit(1)


def _event_row(row: dict[str, Any]) -> dict[str, Any]:
    import json

    if "payload" in row:
        with suppress(json.JSONDecodeError):  # left as text, validation reports it
            row["payload"] = json.loads(row["payload"])
    return row


@import_app.command("events")
def import_events(file: Path) -> None:
    """Columns: id, student (LMS id), type, occurred_at (ISO 8601 with offset), ref, score,
    payload (JSON). One transaction per 1,000 rows; idempotent by event id."""
    from storage.ingest import ingest_events

    _run_import(file, ingest_events, _event_row)


@import_app.command("students")
def import_students(file: Path) -> None:
    """Columns: lms_id, name, program, track, grade, cohort, locale, time_zone, mentor (the
    mentor's LMS id), under_13 (true/false) or birth_date (YYYY-MM-DD: only read to work out
    under_13 on the student's local today, never stored). Upserted by LMS id; one transaction
    per 1,000 rows."""
    from storage.ingest import ingest_students

    _run_import(file, ingest_students, dict)


@nudges_app.command("preview")
def preview_command(
    at: Annotated[datetime, typer.Option(help="the moment to preview; UTC unless an offset")],
) -> None:
    """Show, without sending, what would go out at AT and why; and what is held or suppressed."""
    from bot.app import build_runtime
    from scheduler.preview import preview, summary

    moment = at if at.tzinfo else at.replace(tzinfo=UTC)
    runtime = build_runtime(Settings(scheduler={"enabled": False}))
    assert runtime.nudges is not None
    rows = preview(runtime.db, runtime.nudges.planner, runtime.dispatcher.policy, moment)
    runtime.db.close()
    table = Table("decision", "why", "campaign", "person", "channel", "template", "local time",
                  "until", title=f"Nudges at {moment:%Y-%m-%d %H:%M} UTC")
    for row in rows:
        table.add_row(row.decision, row.reason, row.campaign, row.person, row.channel,
                      row.template, row.local_time, row.until)
    out.print(table)
    out.print(", ".join(f"{k}: {v}" for k, v in sorted(summary(rows).items())) or "nothing")
