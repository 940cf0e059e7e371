"""Compliance keywords, answered before any flow or command sees the message.

Channel-neutral: the caller says whether the number is opted out and applies the effects.
STOP and friends opt the number out (everyone who shares it) with exactly one confirmation;
START/UNSTOP (and YES, only while opted out) opt back in; HELP says who we are and how to
stop; PAUSE silences proactive texts for two weeks. Everything else is an ordinary message.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.i18n import Gettext
from bot.messages import Reply
from handlers.flow import Effect
from handlers.keywords import Keyword, classify, normalize

PAUSE_DAYS = 14


@dataclass(frozen=True, slots=True)
class ComplianceAnswer:
    """Replies go out as kind "compliance" (even to an opted-out number); effects first."""

    replies: tuple[Reply, ...] = ()
    effects: tuple[Effect, ...] = ()


def help_text(t: Gettext) -> str:
    return t._(
        "Mentorbot: study coaching and progress texts from your school program. "
        "Msg frequency varies. Msg & data rates may apply. Reply STOP to opt out, "
        "PAUSE to pause for 2 weeks, START to opt back in."
    )


def compliance_answer(
    text: str, *, opted_out: bool, t: Gettext, paused: bool = False
) -> ComplianceAnswer | None:
    """What to do about a compliance keyword; None for an ordinary message."""
    keyword = classify(text)
    if keyword is Keyword.OPT_IN and paused and not opted_out and normalize(text) != "yes":
        resumed = t._("Reminders are on again. Reply PAUSE to pause them, STOP to opt out.")
        return ComplianceAnswer((Reply(resumed),), (Effect("phone_opt_in"),))
    if keyword is Keyword.OPT_OUT:
        if opted_out:
            return ComplianceAnswer()  # one confirmation only: a second STOP stays silent
        confirm = t._(
            "You're unsubscribed and will get no more texts from us. Reply START to resubscribe."
        )
        return ComplianceAnswer((Reply(confirm),), (Effect("phone_opt_out"),))
    if keyword is Keyword.OPT_IN and opted_out:
        welcome = t._("You're subscribed again. Reply STOP to opt out, HELP for help.")
        return ComplianceAnswer((Reply(welcome),), (Effect("phone_opt_in"),))
    if keyword is Keyword.HELP:
        return ComplianceAnswer((Reply(help_text(t)),))
    if keyword is Keyword.PAUSE and not opted_out:
        paused = t._(
            "Reminders are paused for {days} days. Reply START to resume sooner, STOP to opt out.",
            days=PAUSE_DAYS,
        )
        return ComplianceAnswer((Reply(paused),), (Effect("phone_pause", {"days": PAUSE_DAYS}),))
    return None
