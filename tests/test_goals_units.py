"""The pure parts of goals and plans: the goals file, week boundaries, progress, streaks,
badges and the plan's layout."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from scheduler import goal_progress as rules
from scheduler.goal_config import GoalFileError, GoalOffer, load_goal_config
from scheduler.personas import Event
from scheduler.plan_builder import open_work, propose, wanted_by_goals, week_days


def test_the_shipped_goals_file_loads_with_per_program_switches() -> None:
    config = load_goal_config()
    assert config.for_program("microbachelors-it").gamification is False
    assert config.for_program("anything else").gamification is True
    assert GoalOffer("submit_n", 2) in config.default.offers("regular")
    assert config.default.offers("unknown persona") == config.default.offers("regular")


def test_a_broken_goals_file_lists_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "goals.yaml"
    path.write_text(
        "programs:\n  default:\n    plan_day: someday\n    plan_hour: 25\n"
        "    goals: {regular: [fly:2, submit_n:0]}\n    colour: blue\n"
    )
    with pytest.raises(GoalFileError) as err:
        load_goal_config(path)
    problems = "\n".join(err.value.problems)
    for bit in ("plan_day", "plan_hour", "fly:2", "submit_n:0", "colour"):
        assert bit in problems


def test_a_week_starts_on_the_plan_day_in_the_students_zone() -> None:
    assert rules.week_start_for(date(2026, 11, 25), 0) == date(2026, 11, 23)  # Wed -> Mon
    assert rules.week_start_for(date(2026, 11, 25), 2) == date(2026, 11, 25)  # Wed itself
    start, end = rules.week_bounds(date(2026, 11, 23), "Asia/Kolkata")
    assert start == datetime(2026, 11, 22, 18, 30, tzinfo=UTC) and (end - start).days == 7


def _at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


def test_progress_from_events() -> None:
    week = [
        Event("class_attended", _at(23)),
        Event("class_missed", _at(25)),
        Event("login", _at(23)),
        Event("login", _at(23, 20)),
        Event("login", _at(24)),
    ]
    assert rules.goal_progress("attend_all", 1, week, "UTC") == rules.Progress(1, 2)
    assert not rules.goal_progress("attend_all", 1, week, "UTC").met
    assert rules.goal_progress("study_sessions", 2, week, "UTC").met  # two distinct days
    assert rules.goal_progress("own", 1, [], "UTC", checked_in=True).met


def test_streaks_break_and_restore_and_badges_follow_the_rules() -> None:
    history = [Event("class_attended", _at(d)) for d in (1, 3, 5)]
    history += [Event("class_missed", _at(7)), Event("class_attended", _at(9))]
    assert rules.attendance_streak(history) == (1, 3)
    assert rules.plan_streak([True, False, True, True]) == 2
    standing = rules.Standing(goals_met=1, best_attendance=5, points=99, perfect_week=False)
    assert rules.earned_badges(standing) == ["first_goal", "streak_5"]


def test_a_plan_puts_open_work_first_and_spreads_the_week() -> None:
    events = [
        Event("assignment_assigned", _at(20), ref="hw1"),
        Event("test_started", _at(21), ref="t1"),
        Event("class_missed", _at(22)),
    ]
    open_items = open_work(events, date(2026, 11, 16), "UTC")
    assert open_items == ["assignment", "test", "recording"]
    goals = wanted_by_goals([("practice_test", 1), ("study_sessions", 2)])
    items = propose(
        week_days(date(2026, 11, 23), date(2026, 11, 23)), 17, ["study"], open_items, goals
    )
    # In week order: carried and open work took the most spread days (Mon, Wed, Fri, Tue).
    activities = [i["activity"] for i in items]
    assert activities == ["study", "recording", "assignment", "study", "test"]
    assert {i["hour"] for i in items} == {17} and len({i["day"] for i in items}) == 5
    late = propose(week_days(date(2026, 11, 23), date(2026, 11, 28)), 9, [], [], [])
    assert [i["day"] for i in late] == ["2026-11-28", "2026-11-29"]  # only the days left
