"""The send-time policy, on facts alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scheduler.policy import Decision, DeliveryFacts, SendPolicy

POLICY = SendPolicy(fallback_zone="America/New_York")
EVENING_NY = datetime(2026, 11, 24, 1, 30, tzinfo=UTC)  # 20:30 in New York
MORNING_NY = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # 10:00 in New York
NY_PHONE = "+12125550100"


def facts(**kw: object) -> DeliveryFacts:
    base: dict[str, object] = {"kind": "nudge", "channel": "sms", "address": NY_PHONE}
    base.update(kw)
    return DeliveryFacts(**base)  # type: ignore[arg-type]


def test_nudge_due_at_20_30_local_is_held_to_9_next_morning() -> None:
    verdict = POLICY.verdict(facts(), EVENING_NY)
    assert verdict.decision is Decision.HOLD and verdict.reason == "quiet_hours"
    assert verdict.until == datetime(2026, 11, 24, 14, 0, tzinfo=UTC)


def test_inside_the_window_it_goes() -> None:
    assert POLICY.verdict(facts(), MORNING_NY).decision is Decision.SEND


def test_a_direct_reply_ignores_quiet_hours_but_not_an_opt_out() -> None:
    assert POLICY.verdict(facts(kind="reply"), EVENING_NY).decision is Decision.SEND
    verdict = POLICY.verdict(facts(kind="reply", opted_out=True), MORNING_NY)
    assert (verdict.decision, verdict.reason) == (Decision.SUPPRESS, "opted_out")


def test_the_opt_out_confirmation_itself_still_goes() -> None:
    verdict = POLICY.verdict(facts(kind="compliance", opted_out=True), EVENING_NY)
    assert verdict.decision is Decision.SEND


@pytest.mark.parametrize(
    "consent,decision",
    [
        ({}, Decision.SUPPRESS),
        ({"coaching": "withdrawn"}, Decision.SUPPRESS),
        ({"coaching": "granted"}, Decision.SEND),
    ],
)
def test_consent_for_the_purpose_is_required(consent: dict[str, str], decision: Decision) -> None:
    verdict = POLICY.verdict(facts(purpose="coaching", consent=consent), MORNING_NY)
    assert verdict.decision is decision


def test_pause_silences_nudges_but_not_replies() -> None:
    paused = facts(paused_until=MORNING_NY + timedelta(days=14))
    assert POLICY.verdict(paused, MORNING_NY).reason == "paused"
    assert (
        POLICY.verdict(facts(kind="reply", paused_until=paused.paused_until), MORNING_NY).decision
        is Decision.SEND
    )


def test_unknown_zone_holds_for_review_never_guesses() -> None:
    toll_free = POLICY.verdict(facts(address="+18005551212"), MORNING_NY)
    assert (toll_free.decision, toll_free.until) == (Decision.HOLD, None)
    no_zone = SendPolicy().verdict(facts(channel="telegram", address="42"), MORNING_NY)
    assert (no_zone.decision, no_zone.reason) == (Decision.HOLD, "zone_unknown")


def test_multi_zone_area_code_waits_for_the_later_zone() -> None:
    # 907 spans Anchorage and Adak (one hour apart): 9:00 must have come in both.
    at_nine_anchorage = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)
    verdict = POLICY.verdict(facts(address="+19072223333"), at_nine_anchorage)
    assert verdict.decision is Decision.HOLD
    assert verdict.until == datetime(2026, 11, 24, 19, 0, tzinfo=UTC)


def test_telegram_nudge_uses_the_person_zone() -> None:
    kolkata_evening = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # 20:30 in Kolkata
    verdict = POLICY.verdict(
        facts(channel="telegram", address="42", time_zone="Asia/Kolkata"), kolkata_evening
    )
    assert verdict.until == datetime(2026, 11, 25, 3, 30, tzinfo=UTC)


def test_expired_unreachable_and_mentor_hold() -> None:
    assert POLICY.verdict(facts(expires_at=MORNING_NY), MORNING_NY).reason == "expired"
    assert POLICY.verdict(facts(reachable=False), MORNING_NY).reason == "unreachable"
    held = POLICY.verdict(facts(mentor_holds=True), MORNING_NY)
    assert held.decision is Decision.HOLD and held.until is not None
