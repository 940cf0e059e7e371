"""Personas on example histories: what a mentor would call regular, slipping, lapsed, new."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from scheduler.personas import (
    LAPSED_AFTER,
    NEW_WINDOW,
    PERSONA_RULES,
    SLIPPING_DROP,
    Engagement,
    Event,
    Performance,
    active_hours,
    engagement_persona,
    performance_persona,
    score_band,
)

NOW = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)


def ago(days: float, hours: float = 0) -> datetime:
    return NOW - timedelta(days=days, hours=hours)


def ev(kind: str, days: float, score: float | None = None) -> Event:
    return Event(kind, ago(days), score=score)


def twice_weekly(first: int, last: int, missed: frozenset[int] = frozenset()) -> list[Event]:
    """A class every 4 days from `first` days ago to `last` days ago, attended unless missed."""
    return [ev("class_missed" if d in missed else "class_attended", d)
            for d in range(first, last - 1, -4)]


def veteran(*extra: Event) -> list[Event]:
    return [ev("enrolled", 120), *[ev("login", d) for d in range(100, 60, -5)], *extra]


def test_regular_student_who_missed_one_class_stays_regular() -> None:
    # attended 57, 53, ..., 5 days ago; missed the class 1 day ago: 3 of 4 recently vs 1.0
    history = veteran(*twice_weekly(57, 5), ev("class_missed", 1))
    assert engagement_persona(history, NOW) is Engagement.REGULAR


def test_student_away_for_three_weeks_is_lapsed() -> None:
    history = veteran(*twice_weekly(57, 21), ev("class_missed", 17), ev("class_missed", 13))
    assert engagement_persona(history, NOW) is Engagement.LAPSED


def test_two_misses_in_a_row_is_slipping() -> None:
    history = veteran(*twice_weekly(57, 9), ev("class_missed", 5), ev("class_missed", 1))
    assert engagement_persona(history, NOW) is Engagement.SLIPPING


def test_attendance_clearly_below_own_baseline_is_slipping() -> None:
    # recent: missed 13, attended 9, missed 5, attended 1 -> 0.5 against a perfect baseline
    history = veteran(*twice_weekly(57, 1, missed=frozenset({13, 5})))
    assert engagement_persona(history, NOW) is Engagement.SLIPPING


def test_a_drop_just_under_the_threshold_is_not_slipping() -> None:
    # baseline 7/10 attended, recent 2/4: a 0.2 drop, below SLIPPING_DROP
    baseline = [ev("class_attended", d) for d in (50, 47, 44, 41, 38, 35, 32)]
    baseline += [ev("class_missed", d) for d in (29, 26, 23)]
    recent = [ev("class_attended", 12), ev("class_missed", 9), ev("class_missed", 6),
              ev("class_attended", 3)]
    assert SLIPPING_DROP > 0.7 - 0.5
    assert engagement_persona(veteran(*baseline, *recent), NOW) is Engagement.REGULAR


def test_freshly_enrolled_student_is_new() -> None:
    history = [ev("enrolled", 3), ev("login", 2), ev("class_attended", 1)]
    assert engagement_persona(history, NOW) is Engagement.NEW


def test_new_even_before_doing_anything() -> None:
    assert engagement_persona([ev("enrolled", 13)], NOW) is Engagement.NEW
    assert engagement_persona([], NOW) is Engagement.NEW


def test_enrolled_long_ago_and_never_active_is_lapsed() -> None:
    history = [ev("enrolled", NEW_WINDOW.days + 6), ev("class_missed", 3)]
    assert engagement_persona(history, NOW) is Engagement.LAPSED


def test_veteran_enrolling_in_another_course_is_not_new() -> None:
    history = veteran(*twice_weekly(57, 5), ev("enrolled", 2))
    assert engagement_persona(history, NOW) is Engagement.REGULAR


def test_lapsed_boundary_is_inclusive() -> None:
    history = veteran(Event("login", NOW - LAPSED_AFTER))
    assert engagement_persona(history, NOW) is Engagement.LAPSED
    history = veteran(Event("login", NOW - LAPSED_AFTER + timedelta(minutes=1)))
    assert engagement_persona(history, NOW) is Engagement.REGULAR


def test_future_events_are_ignored() -> None:
    history = veteran(Event("login", NOW + timedelta(days=1)), ev("login", 30))
    assert engagement_persona(history, NOW) is Engagement.LAPSED


def test_naive_datetimes_are_read_as_utc() -> None:
    naive_now = NOW.replace(tzinfo=None)
    history = [Event("enrolled", naive_now - timedelta(days=2))]
    assert engagement_persona(history, naive_now) is Engagement.NEW


@pytest.mark.parametrize(
    ("scores", "expected"),
    [((85, 92, 88), Performance.HIGH), ((80,), Performance.HIGH), ((70, 65), Performance.MIDDLE),
     ((50,), Performance.MIDDLE), ((35, 48), Performance.LOW), ((60, 30), Performance.LOW),
     ((95, 10), Performance.MIDDLE)],
)
def test_performance_by_mean_recent_score(scores: tuple[int, ...],
                                          expected: Performance) -> None:
    history = [ev("test_completed", 5 + i, score=s) for i, s in enumerate(scores)]
    assert performance_persona(history, NOW) is expected


def test_old_scores_do_not_count() -> None:
    history = [ev("test_completed", 90, score=20), ev("test_completed", 10, score=85)]
    assert performance_persona(history, NOW) is Performance.HIGH


def test_high_scorer_who_skips_assignments_is_not_high() -> None:
    tests = [ev("test_completed", 3, score=90)]
    assigned = [ev("assignment_assigned", d) for d in (40, 30, 20, 10, 5)]
    some = [ev("assignment_submitted", d) for d in (29, 19, 9)]
    assert performance_persona(tests + assigned + some, NOW) is Performance.MIDDLE
    assert performance_persona(tests + assigned + some[:1], NOW) is Performance.LOW


def test_no_evidence_is_middle() -> None:
    assert performance_persona([ev("login", 1)], NOW) is Performance.MIDDLE


def test_score_band_cut_offs() -> None:
    assert [score_band(s) for s in (100, 80, 79.9, 50, 49.9, 0)] == [
        Performance.HIGH, Performance.HIGH, Performance.MIDDLE, Performance.MIDDLE,
        Performance.LOW, Performance.LOW]


def local(hour: int, tz_offset_hours: float, day: int) -> datetime:
    """A UTC instant that reads `hour`:15 local in a fixed-offset zone."""
    return datetime(2025, 2, day, hour, 15, tzinfo=UTC) - timedelta(hours=tz_offset_hours)


def test_active_hours_needs_five_points() -> None:
    logins = [Event("login", local(19, 5.5, d)) for d in range(1, 5)]
    assert active_hours(logins, "Asia/Kolkata") is None
    logins.append(Event("class_scheduled", local(19, 5.5, 6)))  # not activity
    assert active_hours(logins, "Asia/Kolkata") is None


def test_active_hours_around_the_evening_median() -> None:
    logins = [Event("login", local(h, 5.5, d)) for d, h in enumerate((19, 20, 20, 21, 19), 1)]
    assert active_hours(logins, "Asia/Kolkata") == (19, 21)


def test_active_hours_depend_on_the_zone() -> None:
    logins = [Event("login", local(20, 5.5, d)) for d in range(1, 8)]
    assert active_hours(logins, "Asia/Kolkata") == (19, 21)
    assert active_hours(logins, "Europe/Moscow") == (16, 18)  # 20:15 IST is 17:45 MSK


def test_active_hours_wrap_past_midnight() -> None:
    logins = [Event("login", local(h, 3, d)) for d, h in enumerate((23, 0, 1, 0, 23), 1)]
    assert active_hours(logins, "Europe/Moscow") == (23, 1)


def test_active_hours_spread_is_clamped() -> None:
    logins = [Event("login", local(h, 0, d)) for d, h in enumerate((6, 9, 12, 15, 18, 21), 1)]
    first, last = active_hours(logins, "UTC") or (0, 0)
    assert (last - first) % 24 == 6


def test_persona_rules_are_plain_data_matching_the_constants() -> None:
    rules = json.loads(json.dumps(PERSONA_RULES))
    assert rules["lapsed"]["after_days"] == LAPSED_AFTER.days
    assert rules["slipping"]["drop"] == SLIPPING_DROP
    assert "login" in rules["activity_events"]
    assert "class_scheduled" not in rules["activity_events"]
