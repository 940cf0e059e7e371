"""Quiet hours in the recipient's local time, for every outbound path.

Pure functions, no I/O. Policy (shared/notes/sms.md §6): a message may go out only while
local time is inside the send window in *every* candidate zone of the recipient; when we
cannot tell the zones (unknown, toll-free, too many) we return None and the caller holds
the message. Never guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType
from phonenumbers.timezone import (
    UNKNOWN_TIMEZONE,
    time_zones_for_geographical_number,
    time_zones_for_number,
)

from core.locales import is_known_zone

EARLIEST_ALLOWED = time(8)  # 47 CFR 64.1200(c)(1): not before 8 a.m. ...
LATEST_ALLOWED = time(21)  # ... nor after 9 p.m. at the called party's location
MAX_CANDIDATE_ZONES = 4
LOOKAHEAD = timedelta(hours=48)

# Area codes where phonenumbers (checked with 9.0.43) gives one zone for every exchange,
# though the code covers two: all four are overlays of a multi-zone parent code.
AREA_CODE_EXTRA_ZONES: dict[str, frozenset[str]] = {
    "364": frozenset({"America/Chicago", "America/New_York"}),  # KY, overlay of 270
    "448": frozenset({"America/Chicago", "America/New_York"}),  # FL panhandle, overlay of 850
    "458": frozenset({"America/Los_Angeles", "America/Boise"}),  # OR, overlay of 541
    "930": frozenset({"America/Chicago", "America/New_York"}),  # IN, overlay of 812
}
_NOT_A_PERSON = frozenset(
    {
        PhoneNumberType.TOLL_FREE,
        PhoneNumberType.PREMIUM_RATE,
        PhoneNumberType.SHARED_COST,
        PhoneNumberType.UAN,
        PhoneNumberType.VOICEMAIL,
        PhoneNumberType.UNKNOWN,
    }
)


@dataclass(frozen=True)
class SendWindow:
    """Local wall-clock window [start, end) in which texts may be sent."""

    start: time = time(9)
    end: time = time(20)

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("SendWindow times are local wall-clock times: pass naive times")
        if self.start < EARLIEST_ALLOWED or self.end > LATEST_ALLOWED:
            raise ValueError(
                f"SendWindow {self.start:%H:%M}-{self.end:%H:%M} is wider than the legal "
                f"{EARLIEST_ALLOWED:%H:%M}-{LATEST_ALLOWED:%H:%M}"
            )
        if self.start >= self.end:
            raise ValueError(
                f"SendWindow start {self.start:%H:%M} must be before end {self.end:%H:%M}"
            )


@cache
def area_code_zones(area_code: str) -> frozenset[str]:
    """Every zone phonenumbers gives any exchange of a NANP area code, plus known gaps.

    People keep their number when they move within (and beyond) the area, so the exchange
    alone does not tell us which side of a time-zone line they live on.
    """
    zones: set[str] = set(AREA_CODE_EXTRA_ZONES.get(area_code, frozenset()))
    for exchange in range(200, 1000):
        national = int(f"{area_code}{exchange}0000")
        number = phonenumbers.PhoneNumber(country_code=1, national_number=national)
        zones.update(time_zones_for_geographical_number(number))
    return frozenset(zones - {UNKNOWN_TIMEZONE})


def _phone_zones(phone_e164: str) -> frozenset[str] | None:
    try:
        number = phonenumbers.parse(phone_e164, None)
    except NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    if phonenumbers.number_type(number) in _NOT_A_PERSON:
        return None
    zones = set(time_zones_for_number(number))
    if number.country_code == 1:
        zones |= area_code_zones(str(number.national_number)[:3])
    if UNKNOWN_TIMEZONE in zones or not all(is_known_zone(zone) for zone in zones):
        return None
    return frozenset(zones)


def candidate_zones(phone_e164: str | None, profile_zone: str | None) -> frozenset[str] | None:
    """Zones the recipient may be in: profile zone ∪ the number's zones (whole area code for
    +1). None when undecidable: nothing known, unknown zone, invalid or toll-free number, or
    more than ``MAX_CANDIDATE_ZONES`` zones."""
    zones: set[str] = set()
    if profile_zone is not None:
        if not is_known_zone(profile_zone):
            return None
        zones.add(profile_zone)
    if phone_e164 is not None:
        phone_zones = _phone_zones(phone_e164)
        if phone_zones is None:
            return None
        zones |= phone_zones
    if not zones or len(zones) > MAX_CANDIDATE_ZONES:
        return None
    return frozenset(zones)


def local_to_utc(day: date, at: time, zone: str) -> datetime:
    """UTC instant of wall time ``at`` on ``day`` in ``zone`` (PEP 495 fold=0): a
    non-existent time shifts forward by the gap (02:30 -> 03:30 on US spring-forward);
    an ambiguous time resolves to its first occurrence."""
    return datetime.combine(day, at, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def _closing_instant(day: date, at: time, zone: str) -> datetime:
    # The earlier of both folds: a window never closes later than its wall-clock end.
    tz = ZoneInfo(zone)
    local = datetime.combine(day, at, tzinfo=tz)
    return min(local.replace(fold=fold).astimezone(UTC) for fold in (0, 1))


Interval = tuple[datetime, datetime]


def _zone_windows(now: datetime, zone: str, window: SendWindow) -> list[Interval]:
    today = now.astimezone(ZoneInfo(zone)).date()
    days = (today + timedelta(days=offset) for offset in range(-1, 4))
    spans = [
        (local_to_utc(day, window.start, zone), _closing_instant(day, window.end, zone))
        for day in days
    ]
    return [(opens, closes) for opens, closes in spans if opens < closes]


def _intersect(a: list[Interval], b: list[Interval]) -> list[Interval]:
    result: list[Interval] = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo < hi:
            result.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return result


def _common_windows(now: datetime, zones: frozenset[str], window: SendWindow) -> list[Interval]:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime (UTC)")
    if not zones:
        raise ValueError("zones is empty: hold the message (candidate_zones gave None?)")
    unknown = sorted(zone for zone in zones if not is_known_zone(zone))
    if unknown:
        raise ValueError(f"unknown time zone(s): {', '.join(unknown)}")
    ordered = sorted(zones)
    common = _zone_windows(now, ordered[0], window)
    for zone in ordered[1:]:
        common = _intersect(common, _zone_windows(now, zone, window))
    return common


def next_allowed(now: datetime, zones: frozenset[str], window: SendWindow) -> datetime | None:
    """``now`` if local time is inside ``window`` in every zone, else the earliest later
    instant when it is (UTC); None if there is none within ``LOOKAHEAD`` (48 h)."""
    now = now.astimezone(UTC) if now.tzinfo is not None else now
    for opens, closes in _common_windows(now, zones, window):
        if closes > now:
            candidate = max(opens, now)
            return candidate if candidate - now <= LOOKAHEAD else None
    return None


def seconds_left(now: datetime, zones: frozenset[str], window: SendWindow) -> int:
    """Whole seconds until the window closes in the first zone to close; 0 if outside.
    Use (clamped to Twilio's 1..36000) as ``validity_period``."""
    now = now.astimezone(UTC) if now.tzinfo is not None else now
    for opens, closes in _common_windows(now, zones, window):
        if opens <= now < closes:
            return int((closes - now).total_seconds())
    return 0
