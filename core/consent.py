"""Consent purposes as every layer names them, and how one purpose stands in for another."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# The study reminders' own consent purpose (handlers/reminders.py asks for it).
NUDGES = "nudges"
# A purpose with no record of its own falls back to another: coaching consent covers nudges
# until the student decides about nudges separately (then that latest record decides).
IMPLIED_CONSENT: Mapping[str, str] = {"nudges": "coaching"}


def effective_consent(consent: Mapping[str, str], purpose: str) -> str | None:
    """The latest decision for `purpose`, or for the purpose it is implied by."""
    implied = IMPLIED_CONSENT.get(purpose)
    return consent.get(purpose) or (consent.get(implied) if implied else None)


@dataclass(frozen=True, slots=True)
class Ward:
    """A parent's linked child under 13: the parent decides about the child's study reminders."""

    id: int
    name: str | None
    nudges: str | None  # the child's latest `nudges` decision; None: nobody decided yet
