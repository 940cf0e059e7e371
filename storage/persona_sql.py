"""Engagement and performance personas for every student at once, in one SQL statement.

The same rules as `scheduler.personas` (read the thresholds from there), set-based: one pass
over the events groups them per person; three correlated lookups (activity before the latest
enrolment, misses after the last attended class, the first event of someone with neither
activity nor enrolment) run only for the people whose classification needs them. Where it
differs from the Python functions, on purpose:

- Events with the *same* timestamp have no order in SQL. Python keeps their input order, so
  "the last two class outcomes" may differ when an attended and a missed class share an instant.
- The mean score is compared without dividing (`sum < 50 * n`); Python divides an exactly
  rounded sum (`statistics.fmean`). They differ only for sums that doubles cannot represent.
Ratios are computed in double precision on both engines (never PostgreSQL's `numeric`), so the
slipping-drop and submission-rate comparisons round exactly like Python's floats.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from core import persona_rules as rules

_OUTCOMES = "('class_attended', 'class_missed')"


# The persona of a student with no event yet.
NO_EVENTS = ("new", "middle")


def persona_select(now: datetime, params: dict[str, Any], latest: Sequence[str] = (), *,
                   events_only: bool = False, persons: tuple[int, int] | None = None) -> str:
    """SELECT person_id, engagement, performance, last_seen_at for every student; and for each
    event type in `latest`, the time of the person's latest one (`latest_column`).

    `events_only`: only the students with events (the others have `NO_EVENTS`), driven by the
    events' aggregate in person order; cheaper for every student at once than joining the
    aggregate to the people (SQLite would store it and build an index to look it up).
    `persons`: only the students with ids in [lo, hi), a range of the events' person index."""
    recent_start = now - rules.RECENT_WINDOW
    params.update(
        p_now=now,
        p_new_since=now - rules.NEW_WINDOW,
        p_lapsed_before=now - rules.LAPSED_AFTER,
        p_recent_start=recent_start,
        p_baseline_start=recent_start - rules.BASELINE_WINDOW,
        p_perf_since=now - rules.PERFORMANCE_WINDOW,
        p_activity=sorted(rules.ACTIVITY_EVENTS),
    )
    extra = "".join(f", a.{latest_column(t)}" for t in dict.fromkeys(latest))

    def in_range(column: str) -> str:
        return "" if persons is None else f" AND {column} >= :p_lo AND {column} < :p_hi"

    if persons is not None:
        params.update(p_lo=persons[0], p_hi=persons[1])
    aggregates = _aggregates(latest, in_range("e.person_id"))
    source = (f"({aggregates}) a JOIN person p ON p.id = a.person_id" if events_only
              else f"person p LEFT JOIN ({aggregates}) a ON a.person_id = p.id")
    return f"""
    SELECT p.id AS person_id, {_engagement()} AS engagement, {_performance()} AS performance,
           {_LAST_SEEN} AS last_seen_at{extra}
    FROM {source}
    WHERE p.role = 'student' AND p.erased_at IS NULL{in_range("p.id")}"""


# The latest activity, else enrolment, else first event. The first event is looked up only for
# the few students with neither (COALESCE stops at the first non-null on both engines): a
# MIN over every event would cost a step per event for all students.
_LAST_SEEN = """COALESCE(a.active_at, a.enrolled_at,
        (SELECT MIN(f.occurred_at) FROM learning_event f
         WHERE f.person_id = a.person_id AND f.occurred_at <= :p_now))"""


def latest_column(event_type: str) -> str:
    """The persona's column with the time of the person's latest `event_type` event."""
    if not event_type.isidentifier():
        raise ValueError(f"bad event type {event_type!r}")
    return f"latest_{event_type}"


def _quoted(event_type: str) -> str:
    latest_column(event_type)  # checks the name
    return f"'{event_type}'"


def _aggregates(latest_types: Sequence[str] = (), in_range: str = "") -> str:
    # FILTER rather than SUM(CASE ...): it skips the aggregate step for rows that do not count,
    # which is most of them; both engines support it.
    def count(condition: str) -> str:
        return f"COUNT(*) FILTER (WHERE {condition})"

    def latest(condition: str) -> str:
        return f"MAX(e.occurred_at) FILTER (WHERE {condition})"

    recent = "e.occurred_at > :p_recent_start"
    baseline = "e.occurred_at > :p_baseline_start AND e.occurred_at <= :p_recent_start"
    perf = "e.occurred_at > :p_perf_since"
    scored = f"e.type = 'test_completed' AND e.score IS NOT NULL AND {perf}"
    extra = "".join(f",\n        {latest(f'e.type = {_quoted(t)}')} AS {latest_column(t)}"
                    for t in dict.fromkeys(latest_types))
    return f"""
      SELECT e.person_id,
        {latest("e.type = 'enrolled'")} AS enrolled_at,
        {latest("e.type IN :p_activity")} AS active_at,
        {latest("e.type = 'class_attended'")} AS attended_at,
        {count(f"e.type IN {_OUTCOMES} AND {recent}")} AS recent_n,
        {count(f"e.type = 'class_attended' AND {recent}")} AS recent_att,
        {count(f"e.type IN {_OUTCOMES} AND {baseline}")} AS base_n,
        {count(f"e.type = 'class_attended' AND {baseline}")} AS base_att,
        SUM(e.score) FILTER (WHERE {scored}) AS score_sum,
        {count(scored)} AS score_n,
        {count(f"e.type = 'assignment_assigned' AND {perf}")} AS assigned_n,
        {count(f"e.type = 'assignment_submitted' AND {perf}")} AS submitted_n{extra}
      FROM learning_event e
      WHERE e.occurred_at <= :p_now{in_range}
      GROUP BY e.person_id"""


def _engagement() -> str:
    prior_activity = """(SELECT COUNT(*) FROM learning_event x
        WHERE x.person_id = a.person_id AND x.type IN :p_activity
          AND x.occurred_at < a.enrolled_at)"""
    misses_after_attended = """(SELECT COUNT(*) FROM learning_event m
        WHERE m.person_id = a.person_id AND m.type = 'class_missed' AND m.occurred_at <= :p_now
          AND (a.attended_at IS NULL OR m.occurred_at > a.attended_at))"""
    drop = ("CAST(a.base_att AS DOUBLE PRECISION) / a.base_n"
            " - CAST(a.recent_att AS DOUBLE PRECISION) / a.recent_n")
    return f"""CASE
      WHEN a.person_id IS NULL THEN '{NO_EVENTS[0]}'
      WHEN a.enrolled_at > :p_new_since
           AND {prior_activity} < {rules.NEW_MAX_PRIOR_ACTIVITY} THEN 'new'
      WHEN {_LAST_SEEN} <= :p_lapsed_before THEN 'lapsed'
      WHEN {misses_after_attended} >= {rules.MISSED_IN_A_ROW} THEN 'slipping'
      WHEN a.recent_n >= {rules.SLIPPING_MIN_RECENT_CLASSES}
           AND a.base_n >= {rules.SLIPPING_MIN_BASELINE_CLASSES}
           AND {drop} >= {rules.SLIPPING_DROP} THEN 'slipping'
      ELSE 'regular' END"""


def _performance() -> str:
    rate_known = f"a.assigned_n >= {rules.MIN_ASSIGNED_FOR_RATE}"
    rate = "CAST(a.submitted_n AS DOUBLE PRECISION) / a.assigned_n"
    return f"""CASE
      WHEN a.person_id IS NULL THEN '{NO_EVENTS[1]}'
      WHEN a.score_n > 0 AND a.score_sum < {rules.LOW_SCORE} * a.score_n THEN 'low'
      WHEN {rate_known} AND {rate} < {rules.LOW_SUBMISSION_RATE} THEN 'low'
      WHEN a.score_n > 0 AND a.score_sum >= {rules.HIGH_SCORE} * a.score_n
           AND (NOT ({rate_known}) OR {rate} >= {rules.HIGH_SUBMISSION_RATE}) THEN 'high'
      ELSE 'middle' END"""
