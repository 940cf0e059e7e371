"""The languages and time zones a person's profile may name."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

SUPPORTED_LOCALES = ("en", "es", "hi", "ru")


def is_known_zone(name: str) -> bool:
    """True if ``name`` is an IANA zone zoneinfo can load."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
