"""Parents by SMS: confirm their own consent by reply, then digests. (MENTOR is a command for
everyone: it raises an escalation, handlers/commands.py.)

A parent is linked to students by staff (API or CSV import); the school's record is not the
parent's consent, so the first contact asks YES/NO and records purpose "parent_sms" (actor
self). Digests also need the student's own "parent_updates" permission (checked elsewhere).
"""

from __future__ import annotations

from bot.messages import Choice, Reply
from handlers.copy import yes_no
from handlers.flow import Effect, Flow, Step, Turn, table
from handlers.phones import mask

PARENT_SMS = "parent_sms"

TRANSITIONS = table(
    ("start", "ask", "ask_consent"),
    ("start", "chat", "idle"),
    ("ask_consent", "granted", "idle"),
    ("ask_consent", "declined", "idle"),
    ("ask_consent", "unclear", "ask_consent"),
    ("idle", "chat", "idle"),
)


def _record(decision: str) -> Effect:
    return Effect("record_consent", {"purpose": PARENT_SMS, "decision": decision})


def _parent_help(turn: Turn) -> Reply:
    t = turn.t
    if turn.person.has_consent(PARENT_SMS):
        text = t._(
            "You get a weekly progress text about your student. Reply MENTOR to reach their "
            "mentor, HELP for help, STOP to opt out."
        )
        return Reply(text)
    text = t._("You don't get progress texts now. Would you like weekly updates by text?")
    return Reply(text, yes_no(t))


def _chat(turn: Turn) -> Step:
    if turn.choice_id in ("yes", "no") and not turn.person.has_consent(PARENT_SMS):
        return _decided(turn, "chat")
    return Step("chat", (_parent_help(turn),))


def _start(turn: Turn) -> Step:
    if PARENT_SMS in turn.person.consent:
        return _chat(turn)
    return Step("ask")


def _ask_prompt(turn: Turn) -> tuple[Reply, ...]:
    t = turn.t
    text = t._(
        "Hi! Your student's school program can send you a short weekly progress update by "
        "text (attendance and assignments, never grades) at {phone}. Would you like that? "
        "Msg & data rates may apply. Reply STOP to opt out, HELP for help.",
        phone=mask(turn.person.phone_e164),
    )
    return (Reply(text, yes_no(t)),)


def _decided(turn: Turn, event: str | None = None) -> Step:
    t = turn.t
    if turn.choice_id == "yes":
        text = t._("Thanks! You'll get a weekly progress text. Reply STOP at any time to opt out.")
        return Step(event or "granted", (Reply(text),), (_record("granted"),))
    text = t._("Got it, no progress texts. Reply YES if you change your mind.")
    again = (Choice("yes", t._("Get updates")),)
    return Step(event or "declined", (Reply(text, again),), (_record("declined"),))


def _ask_step(turn: Turn) -> Step:
    if turn.choice_id in ("yes", "no"):
        return _decided(turn)
    return Step("unclear", (Reply(turn.t._("Please answer Yes or No.")),))


FLOW = Flow(
    name="parents",
    initial="start",
    transitions=TRANSITIONS,
    steps={"start": _start, "ask_consent": _ask_step, "idle": _chat},
    prompts={"ask_consent": _ask_prompt},
)
