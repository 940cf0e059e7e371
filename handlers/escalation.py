"""Handing a student to a human: the effect that raises (or joins) an escalation, and its words.

The record is stored by the engine (`raise_escalation` effect); a crisis raises an urgent one
without any words of its own, since the crisis reply already says that a person was alerted.
"""

from __future__ import annotations

from core.i18n import Gettext
from handlers.flow import Effect

REASONS = frozenset({"mentor_request", "crisis", "not_sure", "not_helpful", "parent_request"})


def escalate(
    reason: str, *, urgent: bool = False, tags: tuple[str, ...] = (), silent: bool = False
) -> Effect:
    """`silent`: the caller's own reply already tells the student (the crisis reply does)."""
    if reason not in REASONS:
        raise ValueError(f"unknown escalation reason {reason!r}")
    priority = "urgent" if urgent else "normal"
    args = {"reason": reason, "priority": priority, "tags": tags, "silent": silent}
    return Effect("raise_escalation", args)


def escalated_text(t: Gettext, number: int, joined: bool) -> str:
    if joined:
        return t._(
            "Your request #{number} is already with our mentors; I've added this to it.",
            number=number,
        )
    return t._(
        "I've asked a mentor to get back to you (request #{number}). You can keep asking me "
        "questions in the meantime.",
        number=number,
    )
