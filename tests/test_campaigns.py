"""The shipped campaigns file loads; a broken one lists every problem, one per line."""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path

import pytest

from scheduler.campaigns import (
    Campaign,
    CampaignFileError,
    load_campaigns,
    parse_campaigns,
    parse_duration,
)
from scheduler.catalog import SCENARIOS
from scheduler.personas import Engagement

SHIPPED = Path(__file__).resolve().parent.parent / "scheduler" / "campaigns.yaml"


@pytest.fixture(scope="module")
def shipped() -> dict[str, Campaign]:
    return {c.id: c for c in load_campaigns(SHIPPED)}


def test_shipped_file_has_at_least_twelve_campaigns_over_every_scenario(
        shipped: dict[str, Campaign]) -> None:
    assert len(shipped) >= 12
    assert {c.scenario for c in shipped.values()} == SCENARIOS


def test_abandoned_test_reminder_matches_the_seed(shipped: dict[str, Campaign]) -> None:
    campaign = shipped["test_abandoned"]
    absence = campaign.trigger.absence
    assert absence is not None and campaign.trigger.kind == "absence"
    assert (absence.after, absence.missing, absence.within) == (
        "test_started", "test_completed", timedelta(days=3))
    assert campaign.repeat is not None
    assert (campaign.repeat.every, campaign.repeat.max_times) == (timedelta(days=3), 3)
    assert campaign.repeat.stop_on == ("test_completed",)


def test_class_missed_splits_regular_from_lapsed(shipped: dict[str, Campaign]) -> None:
    regular, lapsed = shipped["class_missed_regular"], shipped["class_missed_lapsed"]
    assert Engagement.REGULAR in regular.audience.engagement
    assert Engagement.LAPSED in lapsed.audience.engagement
    assert not set(regular.audience.engagement) & set(lapsed.audience.engagement)


def test_reengagement_cascades_to_sms_after_a_day(shipped: dict[str, Campaign]) -> None:
    cascade = shipped["reengage_lapsed"].cascade
    assert cascade is not None and (cascade.to, cascade.after) == ("sms", timedelta(hours=24))


def test_results_are_never_held_out_or_capped(shipped: dict[str, Campaign]) -> None:
    result = shipped["test_result"]
    assert result.holdout == 0.0 and result.cap_exempt


def test_defaults_apply(shipped: dict[str, Campaign]) -> None:
    check_in = shipped["weekly_check_in"]
    assert check_in.audience.consent == "nudges"
    assert check_in.holdout == 0.10 and check_in.enabled and not check_in.cap_exempt
    schedule = check_in.trigger.schedule
    assert schedule is not None and (schedule.weekday, schedule.at) == ("sun", time(18, 0))


@pytest.mark.parametrize(("text", "expected"), [
    ("90m", timedelta(minutes=90)), ("24h", timedelta(hours=24)), ("3d", timedelta(days=3)),
    ("2w", timedelta(weeks=2)), ("0m", timedelta(0)),
])
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("bad", ["3", "3x", "d3", "1.5h", "-2d", 3, None])
def test_bad_durations(bad: object) -> None:
    with pytest.raises(ValueError, match="bad duration"):
        parse_duration(bad)


BROKEN = """
campaigns:
  - id: Bad-Id
    scenario: nope
    trigger: {event: {type: exploded, delay: 3x}}
    channels: [telegram, pigeon]
    cascade: {to: fax, after: 1d}
    colour: red
    holdout: 0.9
  - id: twin
    scenario: welcome
    trigger: {event: {type: enrolled}, absence: {after: login, missing: login, within: 0m}}
    channels: [sms, sms]
  - id: twin
    scenario: test_completed
    trigger: {schedule: {every: week, weekday: sun, at: "18:00"}}
    channels: [sms]
    cascade: {to: sms, after: 24h}
    repeat: {every: 1d, max_times: 0}
  - scenario: welcome
    trigger: {schedule: {every: day, at: "25:00"}}
    channels: [telegram]
"""

EXPECTED = [
    "campaigns.yaml: campaign 'Bad-Id': field 'id': bad id 'Bad-Id'",
    "campaigns.yaml: campaign 'Bad-Id': field 'scenario': unknown scenario 'nope'",
    "campaigns.yaml: campaign 'Bad-Id': field 'trigger.event.type': unknown event type 'exploded'",
    "campaigns.yaml: campaign 'Bad-Id': field 'trigger.event.delay': bad duration '3x'",
    "campaigns.yaml: campaign 'Bad-Id': field 'channels[1]': Input should be 'telegram'",
    "campaigns.yaml: campaign 'Bad-Id': field 'cascade.to': Input should be 'telegram'",
    "campaigns.yaml: campaign 'Bad-Id': field 'colour': unknown key",
    "campaigns.yaml: campaign 'Bad-Id': field 'holdout': Input should be less than or equal",
    "campaigns.yaml: campaign 'twin': field 'trigger.absence.within': duration must be more",
    "campaigns.yaml: campaign 'twin': field 'channels': a channel is listed twice",
    "campaigns.yaml: campaign 'twin': field 'trigger': this scenario picks its words by score",
    "campaigns.yaml: campaign 'twin': field 'cascade': cascade goes to 'sms', the first channel",
    "campaigns.yaml: campaign 'twin': field 'repeat.max_times': Input should be greater than",
    "campaigns.yaml: campaign #4: field 'id': required",
    "campaigns.yaml: campaign #4: field 'trigger.schedule.at': bad time '25:00'",
    "campaigns.yaml: campaign 'twin': field 'id': duplicate id (campaign #2 uses it too)",
]


def test_broken_file_lists_every_problem() -> None:
    with pytest.raises(CampaignFileError) as caught:
        parse_campaigns(BROKEN)
    problems = caught.value.problems
    for expected in EXPECTED:
        assert any(p.startswith(expected) for p in problems), expected
    assert len(problems) == len(EXPECTED)
    assert str(caught.value).splitlines() == problems


def test_trigger_needs_exactly_one_kind() -> None:
    with pytest.raises(CampaignFileError) as caught:
        parse_campaigns("campaigns:\n  - {id: a, scenario: welcome, trigger: {}, "
                        "channels: [sms]}\n")
    assert caught.value.problems == [
        "campaigns.yaml: campaign 'a': field 'trigger': give exactly one of event, absence, "
        "schedule"]


def test_unquoted_time_survives_yaml_base_60() -> None:
    campaigns = parse_campaigns(
        "campaigns:\n  - id: a\n    scenario: check_in\n    channels: [telegram]\n"
        "    trigger: {schedule: {every: day, at: 17:30}}\n")
    schedule = campaigns[0].trigger.schedule
    assert schedule is not None and schedule.at == time(17, 30)


def test_a_bare_number_is_not_a_time() -> None:
    with pytest.raises(CampaignFileError, match="bad time 9"):
        parse_campaigns("campaigns:\n  - id: a\n    scenario: check_in\n    channels: [sms]\n"
                        "    trigger: {schedule: {every: day, at: 9}}\n")


def test_weekly_schedule_needs_a_weekday() -> None:
    with pytest.raises(CampaignFileError, match="give weekday for every: week"):
        parse_campaigns("campaigns:\n  - id: a\n    scenario: check_in\n    channels: [sms]\n"
                        "    trigger: {schedule: {every: week, at: '18:00'}}\n")


def test_a_key_given_twice_is_reported_with_its_line() -> None:
    with pytest.raises(CampaignFileError) as caught:
        parse_campaigns("campaigns:\n  - id: a\n    priority: 1\n    priority: 2\n")
    assert caught.value.problems == ["campaigns.yaml: line 4: key 'priority' given twice"]


@pytest.mark.parametrize(("text", "problem"), [
    ("", "campaigns.yaml: expected a top-level 'campaigns:' list"),
    ("- id: a\n", "campaigns.yaml: expected a top-level 'campaigns:' list"),
    ("campaigns: []\nextra: 1\n", "campaigns.yaml: field 'extra': unknown key"),
    ("campaigns: [\n", "campaigns.yaml: line 2: expected the node content"),
])
def test_file_level_problems(text: str, problem: str) -> None:
    with pytest.raises(CampaignFileError) as caught:
        parse_campaigns(text)
    assert caught.value.problems[0].startswith(problem)


def test_missing_file_is_a_campaign_file_error(tmp_path: Path) -> None:
    with pytest.raises(CampaignFileError, match=r"nowhere\.yaml: cannot read the file"):
        load_campaigns(tmp_path / "nowhere.yaml")


def test_problems_use_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "school.yaml"
    path.write_text("campaigns:\n  - {id: a, scenario: welcome, channels: [sms]}\n")
    with pytest.raises(CampaignFileError) as caught:
        load_campaigns(path)
    assert caught.value.problems == ["school.yaml: campaign 'a': field 'trigger': required"]
