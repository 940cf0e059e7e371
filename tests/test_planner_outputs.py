"""The planner's fast paths plan and render exactly what the general ones do.

The fast paths: consent and reachable identities read once per student into the persona table
(instead of per candidate and campaign), and classmates' counts read once per run (instead of
per batch). The general paths are still there (`PlanSpec.reach_table=False`, a fresh
`RenderContext` per batch): on a synthetic cohort with mixed consent, unreachable and extra
identities and erased students, every column of every delivery must come out the same.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, text
from sqlmodel import Session

from bench.cohort import event_rows, person_rows
from bot.settings import SUPPORTED_LOCALES, Settings
from core.i18n import Translator
from scheduler.campaigns import load_campaigns
from scheduler.planner import NudgeConfig, Planner
from scheduler.render_batch import RenderContext, render_planned
from storage import plan_sql
from storage.database import Database
from storage.tables import ConsentRecord, Delivery, Identity, LearningEvent, Person

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)  # the planner bench's Wednesday
STUDENTS = 400
TABLES = {"person": Person, "identity": Identity, "consent_record": ConsentRecord}


def load_cohort(db: Database) -> None:
    rng = random.Random(7)

    def write(session: Session) -> None:
        for name, columns, rows in person_rows(STUDENTS, NOW, lambda t: t, rng):
            table = TABLES[name].__table__  # type: ignore[attr-defined]
            session.execute(insert(table), [dict(zip(columns, row, strict=True)) for row in rows])
        columns = ("event_id", "person_id", "type", "occurred_at", "ref", "score", "payload",
                   "created_at")
        events = [dict(zip(columns, row, strict=True))
                  for row in event_rows(STUDENTS, NOW, lambda t: t, rng)]
        for n, event in enumerate(events):
            if n % 9 == 0:  # some events name no class, assignment or test
                event["ref"] = None
            event["payload"] = {"title": f"Class {event['ref']}"} if event["ref"] else {}
        session.execute(insert(LearningEvent.__table__), events)  # type: ignore[attr-defined]
        # What the bench cohort lacks: the "nudges" purpose itself (denied, then granted again
        # for some), unreachable and web chat identities, erased students and a mentor.
        for pid in range(1, STUDENTS + 1):
            if pid % 7 == 0:
                session.add(ConsentRecord(person_id=pid, purpose="nudges", decision="denied",
                                          actor="self", created_at=NOW))
            if pid % 21 == 0:
                session.add(ConsentRecord(person_id=pid, purpose="nudges", decision="granted",
                                          actor="self", created_at=NOW))
            if pid % 11 == 0:
                session.add(Identity(person_id=pid, channel="webchat", address=f"web-{pid}",
                                     created_at=NOW))
        session.flush()
        session.execute(text("UPDATE identity SET reachable = FALSE"
                             " WHERE channel = 'telegram' AND person_id % 13 = 0"))
        session.execute(text("UPDATE person SET erased_at = :now WHERE id % 29 = 0"),
                        {"now": NOW.replace(tzinfo=None)})
        session.execute(text("UPDATE person SET role = 'mentor' WHERE id % 31 = 0"))

    db.run_sync(write)


def make_planner(*, render_on_claim: bool = False) -> Planner:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    return Planner(load_campaigns(settings.nudges.campaigns_file),
                   Translator(settings.locales_dir, SUPPORTED_LOCALES), NudgeConfig(),
                   lambda: ["telegram", "webchat", "sms"], render_on_claim=render_on_claim)


def general_run(db: Database, planner: Planner) -> list[tuple[Any, ...]]:
    """Plan with per-candidate lookups, render with per-batch counts; then roll it all back."""
    found: list[tuple[Any, ...]] = []

    class Rollback(Exception):
        pass

    try:
        with db.session() as session:
            zones = planner._zones(session)
            days = tuple((zone, NOW.astimezone(ZoneInfo(zone)).date()) for zone in zones)
            plan_sql.refresh_personas(session, NOW)  # the persona only
            for campaign in planner.campaigns:
                plan_sql.insert_campaign(session, planner.spec(campaign, NOW, zones, days))
            plan_sql.drop_personas(session)
            while render_planned(session, RenderContext(planner.by_id, planner.translator,
                                                        planner.config), NOW, 97):
                pass
            found = deliveries(session)
            raise Rollback
    except Rollback:
        pass
    _reset_ids(db)
    return found


def _reset_ids(db: Database) -> None:
    if db.dialect == "postgresql":  # ids again from where they were, as SQLite's are
        db.run_sync(lambda s: s.execute(text(
            "SELECT setval(pg_get_serial_sequence('delivery', 'id'),"
            " COALESCE((SELECT MAX(id) FROM delivery), 0) + 1, false)")))


def deliveries(session: Session) -> list[tuple[Any, ...]]:
    table = Delivery.__table__  # type: ignore[attr-defined]
    return [tuple(row) for row in session.execute(table.select().order_by(table.c.id))]


COLUMNS = list(Delivery.__table__.c.keys())  # type: ignore[attr-defined]
STATUS = COLUMNS.index("status")
TOKEN = re.compile(r"/l/[A-Za-z0-9_-]+")


def same(rows: list[tuple[Any, ...]]) -> list[object]:
    """The rows to compare, without their ids and the link tokens made of them: the order in
    which one INSERT ... SELECT inserts its rows follows its query plan (PostgreSQL's, and on
    SQLite the persona table's order where an anchor is read from it), so ids may differ."""
    return sorted(repr([TOKEN.sub("/l/-", str(value)) for value in row[1:]]) for row in rows)


def test_fast_paths_plan_and_render_the_same_deliveries(db: Database) -> None:
    load_cohort(db)
    planner = make_planner()
    expected = general_run(db, planner)
    report = planner.run(db, NOW)
    found = db.run_sync(deliveries)
    assert report.total == len(found) == len(expected) > 100
    assert report.rendered == sum(1 for row in found if row[STATUS] != "holdout")
    assert {"pending", "holdout"} <= {row[STATUS] for row in found}
    assert same(found) == same(expected)


def test_rendering_when_claimed_gives_what_the_planner_renders(db: Database) -> None:
    load_cohort(db)
    planner = make_planner()
    expected = general_run(db, planner)
    claiming = make_planner(render_on_claim=True)
    report = claiming.run(db, NOW)
    assert report.rendered == 0
    planned = [row[0] for row in db.run_sync(deliveries) if row[STATUS] == "planned"]
    assert len(planned) == report.total - sum(report.held_out.values())
    batches = 0  # as senders' claims render them, a few at a time
    while db.run_sync(lambda s: claiming.render(s, NOW, 61)):
        batches += 1
    assert batches == -(-len(planned) // 61)
    assert same(db.run_sync(deliveries)) == same(expected)
