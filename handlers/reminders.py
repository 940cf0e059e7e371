"""Study reminders (the `nudges` consent purpose): who is asked, the question, the answer.

Coaching consent covers reminders for the students who take coaching. Students who are not
offered coaching (ineligible, or with a non-US phone) are asked once for reminders of their
own; students under 13 are never asked, a linked parent decides for them (handlers/parents.py).
The latest `nudges` decision wins over coaching in the planner and the send-time policy, so
a student who turns reminders off gets none even with coaching granted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.consent import NUDGES
from core.i18n import Gettext
from core.messages import Channel, Reply
from handlers.copy import COACHING, yes_no
from handlers.flow import Effect, PersonView, Step, Turn

# Recorded with every reminders decision; bump it whenever the question's wording changes.
NUDGES_TEXT_VERSION = "nudges-2026-11"
# Conversation data: the question was put once (answered or not), so it is never put again.
ASKED = "nudges_asked"


def may_ask(person: PersonView, data: Mapping[str, Any]) -> bool:
    """A student with no reminders decision, never asked before. Under-13s are left out
    (their parent decides); staff and parents are not students."""
    if person.role != "student" or person.under_13:
        return False
    return NUDGES not in person.consent and not data.get(ASKED)


def reminders_open(person: PersonView, data: Mapping[str, Any]) -> bool:
    """Not offered coaching, so reminders need a decision of their own, and none asked yet."""
    return not person.eligible_for_coaching and may_ask(person, data)


def reminders_on(person: PersonView) -> bool:
    """What the planner and the send-time policy decide: the student's own latest reminders
    decision, else their coaching consent."""
    decision = person.consent.get(NUDGES) or person.consent.get(COACHING)
    return decision == "granted"


def record(decision: str) -> Effect:
    args = {"purpose": NUDGES, "decision": decision, "text_version": NUDGES_TEXT_VERSION}
    return Effect("record_consent", args)


def question(turn: Turn) -> tuple[Reply, ...]:
    t = turn.t
    text = t._(
        "May we send you study reminders? For example when a class is coming up or an "
        "assignment is due, at most two a day. You can change this any time in /settings."
    )
    if turn.inbound.channel == Channel.SMS:
        text += " " + t._("Msg & data rates may apply. Reply STOP to opt out, HELP for help.")
    return (Reply(text, yes_no(t)),)


def answer(turn: Turn) -> Step:
    """Yes or No to the question, recorded with the text version; anything else asks again."""
    if turn.choice_id in ("yes", "no"):
        decision = "granted" if turn.choice_id == "yes" else "declined"
        return Step(decision, (confirmation(turn.t, decision),), (record(decision),))
    return Step("unclear", (Reply(turn.t._("Please answer Yes or No.")),))


def confirmation(t: Gettext, decision: str) -> Reply:
    if decision == "granted":
        return Reply(
            t._("Great, we'll send you study reminders. Turn them off any time in /settings.")
        )
    return Reply(t._("OK, no study reminders. Turn them on any time in /settings."))


def status_line(t: Gettext, on: bool) -> str:
    return t._("Study reminders: {status}", status=t._("on") if on else t._("off"))
