"""Quiet hours and candidate zones (scheduler/quiet_hours.py), on a frozen clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.quiet_hours import (
    AREA_CODE_EXTRA_ZONES,
    MAX_CANDIDATE_ZONES,
    SendWindow,
    area_code_zones,
    candidate_zones,
    local_to_utc,
    next_allowed,
    seconds_left,
)

NY = frozenset({"America/New_York"})
DEFAULT = SendWindow()
EASTERN_CENTRAL = frozenset({"America/New_York", "America/Chicago"})


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- SendWindow ---------------------------------------------------------------------------


def test_default_window_is_nine_to_eight() -> None:
    assert SendWindow(time(9), time(20)) == DEFAULT


def test_legal_maximum_is_accepted() -> None:
    assert SendWindow(time(8), time(21)).end == time(21)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (time(7, 59), time(20), "wider than the legal 08:00-21:00"),
        (time(9), time(21, 0, 1), "wider than the legal"),
        (time(9), time(21, 30), "wider than the legal"),
        (time(12), time(12), "must be before end"),
        (time(15), time(10), "must be before end"),
        (time(9, tzinfo=UTC), time(20), "naive"),
    ],
)
def test_invalid_windows_raise(start: time, end: time, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SendWindow(start, end)


# --- candidate_zones ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "phone",
    ["+18506441234", "+18504341234"],  # Tallahassee (Eastern), Pensacola (Central) exchanges
)
def test_850_gets_both_zones_whatever_the_exchange(phone: str) -> None:
    assert candidate_zones(phone, None) == EASTERN_CENTRAL


@pytest.mark.parametrize(
    ("phone", "expected"),
    [
        ("+13642345678", EASTERN_CENTRAL),  # KY overlay of 270
        ("+14482345678", EASTERN_CENTRAL),  # FL overlay of 850
        ("+19302345678", EASTERN_CENTRAL),  # IN overlay of 812
        ("+14582345678", frozenset({"America/Los_Angeles", "America/Boise"})),  # OR / 541
    ],
)
def test_overlay_gaps_are_filled(phone: str, expected: frozenset[str]) -> None:
    assert candidate_zones(phone, None) == expected


def test_gap_table_only_names_real_zones() -> None:
    for zones in AREA_CODE_EXTRA_ZONES.values():
        assert all(ZoneInfo(zone) for zone in zones)
        assert len(zones) >= 2


def test_multi_zone_area_codes_from_phonenumbers() -> None:
    assert {"America/Boise", "America/Los_Angeles"} <= area_code_zones("208")
    assert {"America/Denver", "America/Chicago"} <= area_code_zones("605")
    assert area_code_zones("212") == NY


def test_alaska_includes_adak_and_anchorage() -> None:
    zones = candidate_zones("+19072345678", None)
    assert zones is not None
    assert {"America/Adak", "America/Anchorage"} <= zones


def test_profile_zone_is_added() -> None:
    assert candidate_zones("+12125550123", "America/Chicago") == EASTERN_CENTRAL
    assert candidate_zones(None, "Asia/Kolkata") == frozenset({"Asia/Kolkata"})
    assert candidate_zones("+74951234567", None) == frozenset({"Europe/Moscow"})


@pytest.mark.parametrize(
    ("phone", "profile"),
    [
        (None, None),  # nothing known
        (None, "Mars/Olympus_Mons"),  # unknown profile zone
        ("+12125550123", "Not/AZone"),
        ("+18005551212", None),  # toll-free
        ("+18005551212", "America/New_York"),
        ("+15551234", None),  # invalid
        ("4155552671", None),  # not E.164
        ("+17295551234", None),  # area code phonenumbers doesn't know yet
        ("+79161234567", None),  # Russian mobile: 16 country-level zones
        ("+19072345678", "America/Los_Angeles"),  # 5 zones > MAX_CANDIDATE_ZONES
    ],
)
def test_undecidable_is_none(phone: str | None, profile: str | None) -> None:
    assert candidate_zones(phone, profile) is None


def test_never_more_than_the_maximum() -> None:
    zones = candidate_zones("+12085551234", "America/New_York")  # 208: Boise, Denver, LA
    assert zones is not None
    assert len(zones) <= MAX_CANDIDATE_ZONES


# --- local_to_utc: DST ---------------------------------------------------------------------


def test_nonexistent_local_time_shifts_forward() -> None:
    # 2026-03-08 02:30 does not exist in New York; it becomes 03:30 EDT.
    shifted = local_to_utc(date(2026, 3, 8), time(2, 30), "America/New_York")
    assert shifted == utc(2026, 3, 8, 7, 30)


def test_ambiguous_local_time_uses_first_occurrence() -> None:
    # 2026-11-01 01:30 happens twice in New York; fold=0 is the EDT one.
    first = local_to_utc(date(2026, 11, 1), time(1, 30), "America/New_York")
    assert first == utc(2026, 11, 1, 5, 30)


# --- next_allowed / seconds_left -----------------------------------------------------------


def test_inside_the_window_returns_now() -> None:
    now = utc(2026, 6, 10, 16, 0)  # 12:00 EDT
    assert next_allowed(now, NY, DEFAULT) == now
    assert seconds_left(now, NY, DEFAULT) == 8 * 3600


def test_message_due_at_2030_is_held_to_0900_next_day() -> None:
    now = utc(2026, 6, 11, 0, 30)  # 20:30 EDT on June 10
    assert next_allowed(now, NY, DEFAULT) == utc(2026, 6, 11, 13, 0)  # 09:00 EDT
    assert seconds_left(now, NY, DEFAULT) == 0


def test_window_end_is_exclusive_and_start_inclusive() -> None:
    assert seconds_left(utc(2026, 6, 11, 0, 0), NY, DEFAULT) == 0  # 20:00 EDT sharp
    assert next_allowed(utc(2026, 6, 10, 13, 0), NY, DEFAULT) == utc(2026, 6, 10, 13, 0)


def test_new_york_spring_forward() -> None:
    evening_before = utc(2026, 3, 8, 2, 0)  # Sat 21:00 EST
    assert next_allowed(evening_before, NY, DEFAULT) == utc(2026, 3, 8, 13, 0)  # 09:00 EDT
    assert seconds_left(utc(2026, 3, 8, 13, 0), NY, DEFAULT) == 11 * 3600  # to 20:00 EDT


def test_new_york_fall_back() -> None:
    evening_before = utc(2026, 11, 1, 0, 30)  # Sat 20:30 EDT
    assert next_allowed(evening_before, NY, DEFAULT) == utc(2026, 11, 1, 14, 0)  # 09:00 EST
    assert seconds_left(utc(2026, 11, 1, 14, 0), NY, DEFAULT) == 11 * 3600  # to 20:00 EST


def test_kolkata_half_hour_offset() -> None:
    zones = frozenset({"Asia/Kolkata"})
    assert next_allowed(utc(2026, 1, 15, 3, 0), zones, DEFAULT) == utc(2026, 1, 15, 3, 30)
    assert seconds_left(utc(2026, 1, 15, 13, 0), zones, DEFAULT) == 5400  # 18:30 -> 20:00 IST


def test_moscow() -> None:
    zones = frozenset({"Europe/Moscow"})
    assert next_allowed(utc(2026, 1, 15, 17, 30), zones, DEFAULT) == utc(2026, 1, 16, 6, 0)


def test_adak_and_anchorage_take_the_later_opening_and_earlier_closing() -> None:
    zones = frozenset({"America/Adak", "America/Anchorage"})  # summer: UTC-9 and UTC-8
    assert next_allowed(utc(2026, 7, 1, 17, 30), zones, DEFAULT) == utc(2026, 7, 1, 18, 0)
    assert seconds_left(utc(2026, 7, 1, 18, 0), zones, DEFAULT) == 10 * 3600  # Anchorage 20:00


def test_850_waits_for_central_and_stops_with_eastern() -> None:
    zones = candidate_zones("+18506441234", None)
    assert zones is not None
    assert next_allowed(utc(2026, 1, 15, 14, 30), zones, DEFAULT) == utc(2026, 1, 15, 15, 0)
    assert seconds_left(utc(2026, 1, 15, 16, 0), zones, DEFAULT) == 9 * 3600  # 20:00 EST


def test_zones_too_far_apart_is_none() -> None:
    zones = frozenset({"America/Chicago", "Asia/Kolkata"})
    assert next_allowed(utc(2026, 1, 15, 12, 0), zones, DEFAULT) is None
    assert seconds_left(utc(2026, 1, 15, 12, 0), zones, DEFAULT) == 0


def test_window_opening_in_a_dst_gap_shifts_forward() -> None:
    # Khartoum jumped 12:00 -> 13:00 on 2000-01-15 (UTC+2 -> UTC+3).
    zones = frozenset({"Africa/Khartoum"})
    opens_in_gap = SendWindow(time(12, 30), time(20))
    assert next_allowed(utc(2000, 1, 15, 8, 0), zones, opens_in_gap) == utc(2000, 1, 15, 10, 30)


def test_window_closing_in_a_dst_gap_never_runs_late() -> None:
    zones = frozenset({"Africa/Khartoum"})
    closes_in_gap = SendWindow(time(9), time(12, 30))
    assert seconds_left(utc(2000, 1, 15, 8, 0), zones, closes_in_gap) == 5400  # 09:30 UTC


def test_window_closing_in_an_ambiguous_hour_closes_at_first_occurrence() -> None:
    # Easter Island fell back 21:00 -> 20:00 on 1980-03-08 (UTC-6 -> UTC-7).
    zones = frozenset({"Pacific/Easter"})
    window = SendWindow(time(9), time(20, 30))
    assert seconds_left(utc(1980, 3, 9, 2, 0), zones, window) == 1800
    assert next_allowed(utc(1980, 3, 9, 2, 45), zones, window) == utc(1980, 3, 9, 16, 0)


def test_bad_arguments_raise() -> None:
    with pytest.raises(ValueError, match="aware"):
        next_allowed(datetime(2026, 1, 1, 12), NY, DEFAULT)
    with pytest.raises(ValueError, match="empty"):
        seconds_left(utc(2026, 1, 1, 12), frozenset(), DEFAULT)
    with pytest.raises(ValueError, match="unknown time zone"):
        next_allowed(utc(2026, 1, 1, 12), frozenset({"Etc/Unknown"}), DEFAULT)


def test_non_utc_aware_now_is_accepted() -> None:
    now = datetime(2026, 6, 10, 12, 0, tzinfo=ZoneInfo("America/New_York"))
    assert next_allowed(now, NY, DEFAULT) == now


# --- properties ----------------------------------------------------------------------------

ZONES = [
    "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles",
    "America/Adak", "America/Anchorage", "Pacific/Honolulu", "America/St_Johns",
    "Asia/Kolkata", "Asia/Kathmandu", "Europe/Moscow", "Europe/London",
    "Australia/Lord_Howe", "Pacific/Chatham",
]  # fmt: skip


def inside(at: datetime, zones: frozenset[str], window: SendWindow) -> bool:
    return all(window.start <= at.astimezone(ZoneInfo(z)).time() < window.end for z in zones)


windows = st.builds(
    lambda a, b: SendWindow(time(8 + min(a, b)), time(9 + max(a, b))),
    st.integers(0, 12),
    st.integers(0, 12),
)
instants = st.datetimes(
    min_value=datetime(2015, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
).map(lambda d: d.replace(second=0, microsecond=0))
zone_sets = st.frozensets(st.sampled_from(ZONES), min_size=1, max_size=3)


@settings(max_examples=120, deadline=None)
@given(instants, zone_sets, windows)
def test_next_allowed_is_inside_everywhere_and_earliest(
    now: datetime, zones: frozenset[str], window: SendWindow
) -> None:
    result = next_allowed(now, zones, window)
    probe, step = now, timedelta(minutes=15)
    limit = result if result is not None else now + timedelta(hours=48)
    while probe < limit:  # nothing earlier was allowed
        assert not inside(probe, zones, window)
        probe += step
    if result is not None:
        assert now <= result <= now + timedelta(hours=48)
        assert inside(result, zones, window)
        assert result == now or not inside(result - timedelta(seconds=1), zones, window)


@settings(max_examples=120, deadline=None)
@given(instants, zone_sets, windows)
def test_seconds_left_ends_at_the_first_closing(
    now: datetime, zones: frozenset[str], window: SendWindow
) -> None:
    left = seconds_left(now, zones, window)
    assert (left > 0) == inside(now, zones, window)
    if left > 0:
        assert inside(now + timedelta(seconds=left - 1), zones, window)
        assert not inside(now + timedelta(seconds=left), zones, window)
