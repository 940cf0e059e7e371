"""The renderer's fast paths give exactly what the slow, general ones give."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import sqlite

from scheduler.catalog import pick_template as pick
from scheduler.catalog import render
from scheduler.personas import (
    ACTIVE_HOURS_MAX_POINTS,
    Engagement,
    Event,
    active_hours,
    hours_window,
)
from storage.plan_render import _sqlite_instant, read_instant
from storage.types import UTCDateTime

ZONES = st.sampled_from(["UTC", "America/New_York", "Asia/Kolkata", "Europe/Moscow",
                         "Australia/Lord_Howe"])
INSTANTS = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                        timezones=st.just(UTC))


@given(INSTANTS, ZONES)
def test_sqlite_instants_are_stored_and_read_as_utcdatetime_does(moment: datetime,
                                                                  zone: str) -> None:
    dialect = sqlite.dialect()
    column_type = UTCDateTime().dialect_impl(dialect)
    store = column_type.bind_processor(dialect)
    load = column_type.result_processor(dialect, None)
    assert store is not None and load is not None
    local = moment.astimezone(ZoneInfo(zone))
    assert _sqlite_instant(local) == store(local)
    stored = store(moment)
    assert read_instant(stored) == load(stored) == moment
    assert read_instant(stored).tzinfo is UTC  # type: ignore[union-attr]


def test_no_instant_stays_none() -> None:
    assert _sqlite_instant(None) is None and read_instant(None) is None


@given(st.lists(INSTANTS, max_size=70), ZONES)
def test_hours_window_of_local_times_is_active_hours(times: list[datetime], zone: str) -> None:
    expected = active_hours([Event("login", at) for at in times], zone)
    local = [at.astimezone(ZoneInfo(zone)) for at in sorted(times)]
    assert hours_window([m.hour for m in local[-ACTIVE_HOURS_MAX_POINTS:]]) == expected


def test_parsed_texts_are_reused_and_still_checked_every_time() -> None:
    template = pick("inactive", Engagement.LAPSED)
    params = {"name": "Ana", "course": "CS", "days": 3, "link": "x", "streak": 0}
    assert render(template, params, str, _ngettext) == render(template, params, str, _ngettext)
    for _ in range(2):
        with pytest.raises(KeyError):
            render(template, {"name": "Ana", "days": 3}, str, _ngettext)

    def sneaky(_singular: str, _plural: str, _n: int) -> str:
        return "{name.__class__}"

    for _ in range(2):
        with pytest.raises(ValueError):
            render(template, params, str, sneaky)


def _ngettext(singular: str, plural: str, n: int) -> str:
    return singular if n == 1 else plural


def test_streak_counts_back_from_today_or_yesterday() -> None:
    from scheduler.nudge_text import streak_days

    today = datetime(2026, 11, 25).date()
    days = {today - timedelta(days=n) for n in (1, 2, 3, 5)}
    assert streak_days(days, today) == 3
    assert streak_days(days | {today}, today) == 4
    assert streak_days(set(), today) == 0
