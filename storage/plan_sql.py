"""The planner's set-based SQL: one INSERT ... SELECT ... ON CONFLICT DO NOTHING per campaign.

Selection (anchor events or schedule occurrences), persona, audience, consent, channel,
holdout and dedupe all happen here, for every student at once; each student's persona,
consent and first reachable identity per channel are read once per run into a temporary table
(`refresh_personas`), which every campaign joins. No datetime arithmetic runs in
SQL (SQLite keeps instants as text): the caller turns every "fires N after the event" into
bounds on the event's own time, one row per repeat step. Rows are inserted as `planned` (the
renderer fills the text and the due time, then makes them `pending`) or `holdout` (never sent;
kept for lift). Two unique keys stop duplicates structurally: `dedupe_key` (campaign, person,
period) and `topic_key` (topic, person, local day; not set on holdout rows).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from sqlmodel import Session

from core.holdout import holdout_bucket_sql
from storage.persona_sql import NO_EVENTS, latest_column, persona_select
from storage.side_query import insert_beside, shares_data
from storage.sql_params import sql, values_table

PERSONA_TABLE = "plan_persona"


@dataclass(frozen=True, slots=True)
class Step:
    """Repeat `step` fires for anchor events with `lo < occurred_at <= hi`."""

    step: int
    hi: datetime
    lo: datetime


@dataclass(frozen=True, slots=True)
class Occurrence:
    """A schedule occurrence in one zone: when it fires and on which local date."""

    zone: str
    fire_at: datetime
    local_date: date


@dataclass(frozen=True, slots=True)
class PlanSpec:
    campaign_id: str
    topic: str
    kind: str  # event | absence | schedule
    channels: tuple[str, ...]
    salt: int
    holdout_threshold: int
    now: datetime
    fallback_zone: str
    local_days: tuple[tuple[str, date], ...]  # (zone, today's local date) for topic keys
    consent: str = "nudges"
    implied_consent: str | None = None
    anchor_type: str = ""
    missing_type: str | None = None
    match_ref: bool = True
    stop_types: tuple[str, ...] = ()
    steps: tuple[Step, ...] = ()
    occurrences: tuple[Occurrence, ...] = ()
    audience: dict[str, tuple[str, ...]] = field(default_factory=dict)
    reach_table: bool = False  # consent and channels read from the persona table
    # An absence of the anchor's own type ("no login since this login"): the anchor is the
    # person's latest such event, read from the persona table (built with `latest`) instead
    # of looking for a later one after every anchor.
    latest_anchor: bool = False
    ref_lookups: bool = False  # "nothing since for this ref" as index lookups (`_none_since`)

    @property
    def anchor_is_latest(self) -> bool:
        """Whether `latest_anchor` may apply: the missing event is the anchor's own type."""
        return self.kind == "absence" and self.missing_type == self.anchor_type \
            and not self.match_ref


def refresh_personas(session: Session, now: datetime,
                     consents: tuple[tuple[str, str], ...] = (),
                     channels: tuple[str, ...] = (), latest: tuple[str, ...] = (), *,
                     split_from: int | None = None) -> None:
    """(Re)build this connection's temporary table of every student's persona and reach.

    Besides the persona, one column per (purpose, implied purpose) in `consents` says whether
    consent is granted (`consent_column`), and one per channel in `channels` holds the person's
    first reachable identity there (`channel_column`). Campaigns then read one row per
    candidate instead of repeating those lookups (most students are candidates of several
    campaigns), and building it in person order reads consent records and identities in order.
    For each event type in `latest`, a column holds the time of the person's latest one.

    `split_from`: on a SQLite file with at least this many person ids, half of the students
    are computed by a child process, on another core (`side_query`). Only for a session whose
    transaction has written nothing yet, so that the child reads the same data.
    """
    reach_params: dict[str, Any] = {}
    sqlite = session.get_bind().dialect.name == "sqlite"
    reach = [f"CASE WHEN {_consent_test('pp.person_id', purpose, implied, k, reach_params)}"
             f" THEN 1 ELSE 0 END AS {consent_column(purpose, implied)}"
             for k, (purpose, implied) in enumerate(dict.fromkeys(consents))]
    reach += [f"{_first_identity('pp.person_id', channel)} AS {channel_column(channel)}"
              for channel in dict.fromkeys(channels)]
    latest_columns = [latest_column(t) for t in dict.fromkeys(latest)]
    columns = "".join(f", {column}" for column in reach + [f"pp.{c}" for c in latest_columns])

    def rows(persons: tuple[int, int] | None = None) -> tuple[str, dict[str, Any]]:
        params = dict(reach_params)
        select = persona_select(now, params, latest, events_only=sqlite, persons=persons)
        return (f"SELECT pp.person_id, pp.engagement, pp.performance{columns}"
                f" FROM ({select}) pp"), params

    if not sqlite:
        statement, params = rows()
        session.execute(sql(f"DROP TABLE IF EXISTS {PERSONA_TABLE}", {}))
        session.execute(sql(f"CREATE TEMP TABLE {PERSONA_TABLE} AS {statement}", params))
        session.execute(sql(f"CREATE UNIQUE INDEX ON {PERSONA_TABLE} (person_id)", {}))
        for column in latest_columns:
            session.execute(sql(f"CREATE INDEX ON {PERSONA_TABLE} ({column})", {}))
        session.execute(sql(f"ANALYZE {PERSONA_TABLE}", {}))
        return
    # A rowid table: one b-tree search per lookup by person instead of index then table.
    names = ", ".join([column.rsplit(" AS ", 1)[1] + " INTEGER" for column in reach]
                      + [f"{column} TIMESTAMP" for column in latest_columns])
    session.execute(sql(f"DROP TABLE IF EXISTS temp.{PERSONA_TABLE}", {}))
    session.execute(sql(
        f"CREATE TEMP TABLE {PERSONA_TABLE} (person_id INTEGER PRIMARY KEY, engagement TEXT,"
        f" performance TEXT{', ' + names if names else ''})", {}))
    halves = _halves(session, split_from)
    if halves is None:
        statement, params = rows()
        session.execute(sql(f"INSERT INTO temp.{PERSONA_TABLE} {statement}", params))
    else:  # the lower half here, the upper beside it, appended after: still in person order
        (own, own_params), (side, side_params) = rows(halves[0]), rows(halves[1])

        def own_part() -> None:
            session.execute(sql(f"INSERT INTO temp.{PERSONA_TABLE} {own}", own_params))

        insert_beside(session, f"temp.{PERSONA_TABLE}", side, side_params, own_part)
    # Then the students without events: the same reach, the persona of no events.
    params = dict(reach_params, no_events_engagement=NO_EVENTS[0],
                  no_events_performance=NO_EVENTS[1])
    nulls = "".join(f", NULL AS {column}" for column in latest_columns)
    eventless = f"""SELECT p.id AS person_id, :no_events_engagement AS engagement,
        :no_events_performance AS performance{nulls} FROM person p
        WHERE p.role = 'student' AND p.erased_at IS NULL
          AND NOT EXISTS (SELECT 1 FROM temp.{PERSONA_TABLE} t WHERE t.person_id = p.id)"""
    session.execute(sql(f"INSERT INTO temp.{PERSONA_TABLE} SELECT pp.person_id, pp.engagement,"
                        f" pp.performance{columns} FROM ({eventless}) pp", params))
    for column in latest_columns:  # the students whose latest event falls in a window
        session.execute(sql(f"CREATE INDEX temp.ix_{PERSONA_TABLE}_{column}"
                            f" ON {PERSONA_TABLE} ({column})", {}))


def _halves(session: Session, split_from: int | None,
            ) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """Two person id ranges [lo, hi) to compute in two processes, or None: one will do."""
    if split_from is None or not shares_data(session):
        return None
    low, high = session.execute(sql("SELECT MIN(id), MAX(id) FROM person", {})).one()
    if low is None or high - low + 1 < split_from:
        return None
    middle = (low + high + 1) // 2
    return (low, middle), (middle, high + 1)


def consent_column(purpose: str, implied: str) -> str:
    """The persona table's column saying whether `purpose` (or else `implied`) is granted."""
    return _column("consent", f"{purpose}__{implied}")


def channel_column(channel: str) -> str:
    """The persona table's column with the person's first reachable identity on `channel`."""
    return _column("reach", channel)


def _column(kind: str, name: str) -> str:
    if not name.isidentifier():
        raise ValueError(f"bad {kind} name {name!r}")
    return f"{kind}_{name}"


def drop_personas(session: Session) -> None:
    prefix = "" if session.get_bind().dialect.name == "postgresql" else "temp."
    session.execute(sql(f"DROP TABLE IF EXISTS {prefix}{PERSONA_TABLE}", {}))


def insert_campaign(session: Session, spec: PlanSpec) -> tuple[int, int]:
    """Plan one campaign; returns (planned, held out) rows actually inserted."""
    if not spec.channels or (spec.kind == "schedule" and not spec.occurrences):
        return 0, 0
    params: dict[str, Any] = {"now": spec.now, "cid": spec.campaign_id, "topic": spec.topic,
                              "fallback": spec.fallback_zone, "purpose": spec.consent,
                              "implied": spec.implied_consent or spec.consent}
    candidates = _candidates(spec, params)
    days = values_table("d", ("zone", "local_date"),
                        [(z, d.isoformat()) for z, d in spec.local_days], params)
    held = f"{holdout_bucket_sql('p.id', spec.salt)} < {spec.holdout_threshold}"
    # Inserted in person order: the keys of the delivery indexes that start with the person
    # (dedupe and topic keys, person) then mostly grow at one end instead of at random.
    statement = f"""
    INSERT INTO delivery (person_id, channel, address, kind, purpose, text, choices, status,
        due_at, dedupe_key, attempts, campaign_id, meta, created_at, updated_at, topic_key,
        segment, anchor_event_id, step)
    SELECT p.id, i.channel, i.address, 'nudge', :purpose, '', '[]',
        CASE WHEN {held} THEN 'holdout' ELSE 'planned' END,
        COALESCE(c.fire_at, :now),
        'nudge:' || :cid || ':' || CAST(p.id AS TEXT) || ':' || c.period,
        0, :cid, '{{}}', :now, :now,
        CASE WHEN {held} THEN NULL
             ELSE :topic || ':' || CAST(p.id AS TEXT) || ':'
                  || COALESCE(c.local_date, d.local_date)
        END,
        pp.engagement || '.' || pp.performance, c.anchor, c.step
    FROM {candidates}
    JOIN person p ON p.id = c.pid
    JOIN {PERSONA_TABLE} pp ON pp.person_id = p.id
    JOIN {days} ON d.zone = COALESCE(p.time_zone, :fallback)
    JOIN identity i ON i.id = {_channel_choice(spec.channels, spec.reach_table)}
    WHERE {_audience(spec, params)}
    ORDER BY p.id
    ON CONFLICT DO NOTHING
    RETURNING status"""
    statuses = session.execute(sql(statement, params)).scalars().all()
    held_out = sum(1 for s in statuses if s == "holdout")
    return len(statuses) - held_out, held_out


def _candidates(spec: PlanSpec, params: dict[str, Any]) -> str:
    if spec.kind == "schedule":
        rows = [(o.zone, o.fire_at, o.local_date.isoformat()) for o in spec.occurrences]
        zones = values_table("o", ("zone", "fire_at", "local_date"), rows, params)
        return f"""(SELECT pz.id AS pid, CAST(NULL AS INTEGER) AS anchor, 0 AS step,
                   o.fire_at AS fire_at, o.local_date AS local_date, o.local_date AS period
              FROM person pz JOIN {zones} ON o.zone = COALESCE(pz.time_zone, :fallback)) c"""
    steps = values_table("s", ("step", "hi", "lo"),
                         [(s.step, s.hi, s.lo) for s in spec.steps], params)
    params.update(anchor_type=spec.anchor_type)
    if spec.latest_anchor and spec.anchor_is_latest:
        # CROSS JOIN: SQLite keeps this order (per step, the students whose latest time is in
        # its window, by the persona table's index; then the event at that time) instead of
        # reading every anchor-type event of the window, or every student. PostgreSQL reads
        # CROSS JOIN with the WHERE as an inner join it may reorder.
        at = f"lp.{latest_column(spec.anchor_type)}"
        return f"""(SELECT e.person_id AS pid, e.id AS anchor, s.step AS step,
                   CAST(NULL AS TIMESTAMP) AS fire_at, CAST(NULL AS TEXT) AS local_date,
                   CAST(e.id AS TEXT) || ':' || CAST(s.step AS TEXT) AS period
              FROM {steps} CROSS JOIN {PERSONA_TABLE} lp CROSS JOIN learning_event e
              WHERE e.person_id = lp.person_id AND e.type = :anchor_type
                    AND e.occurred_at = {at} AND {at} <= s.hi AND {at} > s.lo
                    {_not_resolved(replace(spec, missing_type=None), params)}) c"""
    return f"""(SELECT e.person_id AS pid, e.id AS anchor, s.step AS step,
                   CAST(NULL AS TIMESTAMP) AS fire_at, CAST(NULL AS TEXT) AS local_date,
                   CAST(e.id AS TEXT) || ':' || CAST(s.step AS TEXT) AS period
              FROM learning_event e JOIN {steps} ON e.occurred_at <= s.hi AND e.occurred_at > s.lo
              WHERE e.type = :anchor_type{_not_resolved(spec, params)}) c"""


def _not_resolved(spec: PlanSpec, params: dict[str, Any]) -> str:
    """No `missing` event since the anchor, and no `stop_on` event for the same thing."""
    clauses = ""
    if spec.missing_type:
        params.update(missing_type=spec.missing_type)
        ref = "same" if spec.match_ref else "any"
        clauses += _none_since("m", "m.type = :missing_type", ref, spec.ref_lookups)
    if spec.stop_types:
        params.update(stop_types=spec.stop_types)
        clauses += _none_since("x", "x.type IN :stop_types", "same_or_none", spec.ref_lookups)
    return clauses


def _none_since(alias: str, type_test: str, ref: str, lookups: bool) -> str:
    """No such event of the anchor's person after the anchor (up to now) whose ref matches by
    `ref`: "any"; "same" (the anchor's ref, or any ref if the anchor has none); "same_or_none"
    (the anchor's ref or none, or any ref if the anchor has none). Written as one lookup per
    ref rule, each a search of the (ref, type, person, time) index, rather than one lookup with
    an OR, which no index serves (it reads the row of every later event to compare refs): that
    one lookup without `lookups`."""
    since = (f"SELECT 1 FROM learning_event {alias} WHERE {alias}.person_id = e.person_id"
             f" AND {type_test} AND {alias}.occurred_at > e.occurred_at"
             f" AND {alias}.occurred_at <= :now")
    if ref == "any":
        return f"\n                AND NOT EXISTS ({since})"
    if not lookups:
        none = f" OR {alias}.ref IS NULL" if ref == "same_or_none" else ""
        return (f"\n                AND NOT EXISTS ({since}"
                f" AND (e.ref IS NULL{none} OR {alias}.ref = e.ref))")
    tests = [f"NOT EXISTS ({since} AND {alias}.ref = e.ref)"]
    if ref == "same_or_none":
        tests.append(f"NOT EXISTS ({since} AND {alias}.ref IS NULL)")
    tests.append(f"(e.ref IS NOT NULL OR NOT EXISTS ({since}))")
    return "".join(f"\n                AND {test}" for test in tests)


def _channel_choice(channels: tuple[str, ...], reach_table: bool) -> str:
    """The person's first reachable identity among the campaign's channels, in its order.

    Read from the persona table when it was built with the channels' columns; otherwise one
    indexed lookup per channel, first found wins (same result: lowest id within the first
    channel that has one).
    """
    if reach_table:
        found = [f"pp.{channel_column(c)}" for c in channels]
        return f"COALESCE({', '.join(found)})" if len(found) > 1 else found[0]
    lookups = ", ".join(_first_identity("p.id", c) for c in channels)
    return f"COALESCE({lookups})" if len(channels) > 1 else lookups


def _first_identity(person: str, channel: str) -> str:
    if not channel.isidentifier():
        raise ValueError(f"bad channel name {channel!r}")
    return f"""(SELECT MIN(ci.id) FROM identity ci WHERE ci.person_id = {person}
              AND ci.channel = '{channel}' AND ci.reachable = TRUE)"""


def _audience(spec: PlanSpec, params: dict[str, Any]) -> str:
    granted = (f"pp.{consent_column(spec.consent, params['implied'])} = 1" if spec.reach_table
               else consent_clause())
    clauses = ["p.role = 'student'", "p.erased_at IS NULL", granted]
    columns = {"programs": "p.program", "grades": "p.grade", "cohorts": "p.cohort",
               "engagement": "pp.engagement", "performance": "pp.performance"}
    for name, column in columns.items():
        values = spec.audience.get(name)
        if values:
            params[f"aud_{name}"] = values
            clauses.append(f"{column} IN :aud_{name}")
    return "\n      AND ".join(clauses)


def consent_clause() -> str:
    """The latest decision for the purpose; without one, the latest for the implied purpose."""
    latest = [_LATEST.format("p.id", name) for name in (":purpose", ":implied")]
    return f"COALESCE({latest[0]}, {latest[1]}) = 'granted'"


def _consent_test(person: str, purpose: str, implied: str, k: int,
                  params: dict[str, Any]) -> str:
    params[f"cs{k}_purpose"], params[f"cs{k}_implied"] = purpose, implied
    latest = [_LATEST.format(person, f":cs{k}_{name}") for name in ("purpose", "implied")]
    return f"COALESCE({latest[0]}, {latest[1]}) = 'granted'"


_LATEST = """(SELECT cr.decision FROM consent_record cr WHERE cr.person_id = {}
        AND cr.purpose = {} ORDER BY cr.id DESC LIMIT 1)"""
