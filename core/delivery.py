"""What the send-time policy reads and answers: a delivery's facts and the verdict.

Value types only; the checks themselves live in `scheduler.policy`. Here so that storage (the
outbox, the claims) can build facts and record verdicts without importing the scheduler.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

# Kinds a person did not just ask for: they respect quiet hours, pauses and mentor holds.
PROACTIVE_KINDS = frozenset({"nudge", "digest", "broadcast", "alert"})


class Decision(StrEnum):
    SEND = "send"
    HOLD = "hold"  # try again at `until`; no `until` means a person must look at it
    SUPPRESS = "suppress"  # never send this one


@dataclass(frozen=True, slots=True)
class Verdict:
    decision: Decision
    reason: str = ""
    until: datetime | None = None


SEND = Verdict(Decision.SEND)


@dataclass(frozen=True, slots=True)
class DeliveryFacts:
    """What the policy needs to know about one delivery and its recipient, now."""

    kind: str
    channel: str
    address: str
    purpose: str | None = None
    expires_at: datetime | None = None
    time_zone: str | None = None
    consent: Mapping[str, str] = field(default_factory=dict)
    # SMS: the number opted out; a chat (Telegram, web chat): the person said STOP in it.
    opted_out: bool = False
    paused_until: datetime | None = None  # the later of the number's and the chat's pause
    under_13: bool = False  # the recipient is a student under 13: never texted (COPPA)
    reachable: bool = True
    mentor_holds: bool = False
    # For a message to a parent about a student: that student's consent (None: unknown).
    student_consent: Mapping[str, str] | None = None
    nudges_today: int = 0  # nudges already sent on the recipient's local day (cap)
    cap_exempt: bool = False

    @property
    def proactive(self) -> bool:
        return self.kind in PROACTIVE_KINDS
