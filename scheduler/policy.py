"""Send-time policy: the one place that decides whether a delivery may go out now.

Checked for every outbound message on every path, at the moment of sending (facts can change
between planning and sending): expiry, reachability, no SMS to a student under 13, opt-outs,
consent for the delivery's purpose, a soft pause, a mentor holding the conversation, and quiet
hours in the recipient's own time zone. A phone number's opt-out stops every text but the
compliance answer (the carriers' rule); a chat's opt-out (STOP on Telegram or the web chat)
stops only proactive messages on that chat. Direct replies skip quiet hours (the person just
wrote to us) but never a number's opt-out. Nudges also obey a frequency cap per person and
*local* day across campaigns (direct replies, cap-exempt campaigns and cascade follow-ups do not
count); the loser is held to the start of the person's next local day, where expiry or the cap
decide again. Pure: the facts come in, a verdict comes out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

# The value types, PROACTIVE_KINDS and IMPLIED_CONSENT live in core (storage builds facts and
# records verdicts); `scheduler.policy` still names them for its callers.
from core.consent import IMPLIED_CONSENT as IMPLIED_CONSENT
from core.consent import effective_consent
from core.delivery import PROACTIVE_KINDS as PROACTIVE_KINDS
from core.delivery import SEND, Decision, DeliveryFacts, Verdict
from scheduler.quiet_hours import SendWindow, candidate_zones, next_allowed

# Compliance answers (the STOP confirmation, HELP) go even to an opted-out number, once.
COMPLIANCE_KIND = "compliance"
SAFETY_KIND = "safety"  # the answer to a crisis message: never held, never withheld from a child
MENTOR_HOLD_RECHECK = timedelta(hours=1)
PARENT_SMS = "parent_sms"  # the parent's own consent purpose
STUDENT_PARENT_UPDATES = "parent_updates"  # the student's permission to update parents
DAILY_NUDGE_CAP = 2

Check = Callable[[DeliveryFacts, datetime], Verdict | None]


def _expired(facts: DeliveryFacts, now: datetime) -> Verdict | None:
    if facts.expires_at is not None and now >= facts.expires_at:
        return Verdict(Decision.SUPPRESS, "expired")
    return None


def _unreachable(facts: DeliveryFacts, now: datetime) -> Verdict | None:
    return None if facts.reachable else Verdict(Decision.SUPPRESS, "unreachable")


def _child_texted(facts: DeliveryFacts, now: datetime) -> Verdict | None:
    """No SMS to a student under 13, whatever the kind: their number needs a parent's consent
    first. Only a crisis answer still goes: COPPA allows a one-time answer to a child's own
    request, and keeping crisis lines from a child who asked is the greater harm."""
    if facts.under_13 and facts.channel == "sms" and facts.kind != SAFETY_KIND:
        return Verdict(Decision.SUPPRESS, "under_13")
    return None


def _opted_out(facts: DeliveryFacts, now: datetime) -> Verdict | None:
    if not facts.opted_out or facts.kind == COMPLIANCE_KIND:
        return None
    if facts.channel == "sms" or facts.proactive:
        return Verdict(Decision.SUPPRESS, "opted_out")
    return None  # a chat's STOP leaves the answers to the person's own messages


def _no_consent(facts: DeliveryFacts, now: datetime) -> Verdict | None:
    if facts.purpose and effective_consent(facts.consent, facts.purpose) != "granted":
        return Verdict(Decision.SUPPRESS, "no_consent")
    return None


def _paused(facts: DeliveryFacts, now: datetime) -> Verdict | None:
    if facts.proactive and facts.paused_until is not None and now < facts.paused_until:
        return Verdict(Decision.SUPPRESS, "paused")
    return None


def _mentor_holds(facts: DeliveryFacts, now: datetime) -> Verdict | None:
    if facts.proactive and facts.mentor_holds:
        return Verdict(Decision.HOLD, "mentor_holds", now + MENTOR_HOLD_RECHECK)
    return None


def _no_student_permission(facts: DeliveryFacts, now: datetime) -> Verdict | None:
    """Parent texts need the student's own permission too, not only the parent's consent."""
    if facts.purpose != PARENT_SMS:
        return None
    if (facts.student_consent or {}).get(STUDENT_PARENT_UPDATES) != "granted":
        return Verdict(Decision.SUPPRESS, "no_student_permission")
    return None


DEFAULT_CHECKS: tuple[Check, ...] = (
    _expired,
    _unreachable,
    _child_texted,
    _opted_out,
    _no_consent,
    _paused,
    _mentor_holds,
    _no_student_permission,
)


@dataclass(frozen=True, slots=True)
class SendPolicy:
    window: SendWindow = field(default_factory=SendWindow)
    fallback_zone: str | None = None  # used for non-SMS recipients without a zone
    checks: Sequence[Check] = DEFAULT_CHECKS
    daily_nudge_cap: int = DAILY_NUDGE_CAP

    def verdict(self, facts: DeliveryFacts, now: datetime) -> Verdict:
        for check in self.checks:
            found = check(facts, now)
            if found is not None:
                return found
        capped = self._capped(facts, now)
        if capped is not None:
            return capped
        return self._quiet_hours(facts, now) if facts.proactive else SEND

    def _capped(self, facts: DeliveryFacts, now: datetime) -> Verdict | None:
        if facts.kind != "nudge" or facts.cap_exempt:
            return None
        if facts.nudges_today < self.daily_nudge_cap:
            return None
        zone = facts.time_zone or self.fallback_zone
        if zone is None:
            return Verdict(Decision.HOLD, "daily_cap", now + timedelta(days=1))
        local = now.astimezone(ZoneInfo(zone))
        tomorrow = datetime.combine(local.date() + timedelta(days=1), time(0), ZoneInfo(zone))
        return Verdict(Decision.HOLD, "daily_cap", tomorrow.astimezone(now.tzinfo))

    def _quiet_hours(self, facts: DeliveryFacts, now: datetime) -> Verdict:
        zones = self._zones(facts)
        if zones is None:
            return Verdict(Decision.HOLD, "zone_unknown")
        allowed = next_allowed(now, zones, self.window)
        if allowed is None:
            return Verdict(Decision.HOLD, "no_common_window")
        if allowed > now:
            return Verdict(Decision.HOLD, "quiet_hours", allowed)
        return SEND

    def _zones(self, facts: DeliveryFacts) -> frozenset[str] | None:
        if facts.channel == "sms":
            # The area code may span zones: the window must hold in all of them.
            return candidate_zones(facts.address, facts.time_zone)
        zone = facts.time_zone or self.fallback_zone
        return candidate_zones(None, zone) if zone else None
