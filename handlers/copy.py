"""Shared wording: the coaching explanation and choice labels used by several flows."""

from __future__ import annotations

from core.i18n import Gettext
from core.messages import Choice, Reply

COACHING = "coaching"


def coaching_explanation(t: Gettext) -> str:
    return t._(
        "Coaching is a free service for learners in your program: a personal coach texts you "
        "about your studies and your career.\n"
        "Career: resumes and cover letters, job search, interviews, networking, LinkedIn.\n"
        "Study: time management, school finances, test prep, a coursework calendar, "
        "study strategies."
    )


def consent_terms(t: Gettext, phone: str) -> str:
    """The consent text; its wording is versioned by settings.consent.text_version."""
    return t._(
        "Do you agree to receive recurring coaching text messages at {phone}? "
        "Message and data rates may apply. Reply STOP at any time to opt out, HELP for help. "
        "Coaching is optional and you can change your mind in /settings.",
        phone=phone,
    )


def yes_no(t: Gettext) -> tuple[Choice, ...]:
    return (Choice("yes", t._("Yes")), Choice("no", t._("No")))


def apology(t: Gettext) -> Reply:
    return Reply(t._("Sorry, something went wrong on our side. Please try again in a moment."))


def phone_problem(t: Gettext, kind: str) -> str:
    if kind == "extension":
        return t._("Please send a phone number without an extension.")
    if kind == "not_personal":
        return t._(
            "That looks like a toll-free or shared number. Please send your own mobile number."
        )
    return t._(
        "I couldn't read that as a phone number. Please send it with the area code, "
        "for example (415) 555-2671 or +1 415 555 2671."
    )


def foreign_number(t: Gettext, phone: str) -> str:
    return t._(
        "Thanks! I saved {phone}. Our coaching partner can only text US phone numbers for now, "
        "so I can't sign you up for coaching with this number. You can send a US number instead, "
        "or skip coaching: everything else here works the same.",
        phone=phone,
    )
