"""The coaching-consent workflow: explain, capture the phone, ask once, confirm.

Ineligible students and students under 13 are never asked; an answered question is never asked
again (a student can still change their mind in settings or with /coaching). Students not
offered coaching (ineligible, or declining it because their phone is not a US number) are asked
once about study reminders instead (handlers/reminders.py); students under 13 are not: a linked
parent decides for them by SMS.
"""

from __future__ import annotations

from core.messages import Channel, Choice, Reply
from handlers import reminders
from handlers.copy import (
    COACHING,
    coaching_explanation,
    consent_terms,
    foreign_number,
    phone_problem,
    yes_no,
)
from handlers.flow import Effect, Flow, Step, Turn, table
from handlers.main import before_reminders_question, chat
from handlers.phones import PhoneKind, check_phone, mask

IDLE = "main:idle"

TRANSITIONS = table(
    ("start", "ineligible", IDLE),
    ("start", "reminders_open", "ask_nudges"),
    ("start", "under_13", IDLE),
    ("start", "answered", IDLE),
    ("start", "eligible", "ask_phone"),
    ("offer", "not_offered", IDLE),
    ("offer", "offered", "ask_phone"),
    ("ask_phone", "under_13", IDLE),
    ("ask_phone", "us_number", "ask_consent"),
    ("ask_phone", "foreign_number", "foreign_phone"),
    ("ask_phone", "bad_number", "ask_phone"),
    ("ask_phone", "declined", IDLE),
    ("ask_phone", "declined_non_us", "ask_nudges"),
    ("foreign_phone", "under_13", IDLE),
    ("foreign_phone", "us_number", "ask_consent"),
    ("foreign_phone", "foreign_number", "foreign_phone"),
    ("foreign_phone", "bad_number", "foreign_phone"),
    ("foreign_phone", "other_number", "retry_phone"),
    ("foreign_phone", "declined", IDLE),
    ("foreign_phone", "declined_non_us", "ask_nudges"),
    ("ask_consent", "under_13", IDLE),
    ("ask_consent", "granted", IDLE),
    ("ask_consent", "declined", IDLE),
    ("ask_consent", "other_number", "retry_phone"),
    ("retry_phone", "under_13", IDLE),
    ("retry_phone", "us_number", "ask_consent"),
    ("retry_phone", "foreign_number", "foreign_phone"),
    ("retry_phone", "bad_number", "retry_phone"),
    ("retry_phone", "declined", IDLE),
    ("retry_phone", "declined_non_us", "ask_nudges"),
    ("ask_consent", "unclear", "ask_consent"),
    ("ask_nudges", "granted", IDLE),
    ("ask_nudges", "declined", IDLE),
    ("ask_nudges", "unclear", "ask_nudges"),
)


def _start(turn: Turn) -> Step:
    """Someone not asked about coaching gets an answer to what they wrote (a first message is
    often a question), or the help; then, if not offered coaching, the reminders question."""
    person = turn.person
    if person.under_13:
        return _as(chat(turn), "under_13")
    if reminders.reminders_open(person, turn.data):
        return before_reminders_question(turn, "reminders_open")
    if not person.eligible_for_coaching:
        return _as(chat(turn), "ineligible")
    if COACHING in person.consent:
        return _as(chat(turn), "answered")
    return Step("eligible")


def _as(step: Step, event: str) -> Step:
    return Step(event, step.replies, step.effects, step.data)


def _offer(turn: Turn) -> Step:
    """/coaching: the student asks again, so an earlier answer does not stop us."""
    person = turn.person
    if person.under_13 or not person.eligible_for_coaching:
        text = turn.t._("Coaching isn't available for your enrolment right now.")
        return Step("not_offered", (Reply(text),))
    return Step("offered")


def _ask_phone_prompt(turn: Turn) -> tuple[Reply, ...]:
    t = turn.t
    name = (turn.person.display_name or "").split(" ")[0] or t._("there")
    intro = t._("Hi {name}! You can get a free personal coach with your program.", name=name)
    ask = t._("To sign up, send me your US mobile phone number, or tap the button to share it.")
    return (
        Reply(intro + "\n\n" + coaching_explanation(t)),
        Reply(ask, (Choice("decline", t._("No thanks")),), request_phone=True),
    )


def _retry_phone_prompt(turn: Turn) -> tuple[Reply, ...]:
    t = turn.t
    ask = t._("Please send your US mobile phone number.")
    return (Reply(ask, (Choice("decline", t._("No thanks")),), request_phone=True),)


def _declined(turn: Turn) -> Step:
    t = turn.t
    text = t._(
        "No problem, you won't be asked again. If you change your mind, type /coaching "
        "or open /settings."
    )
    record = Effect("record_consent", {"purpose": COACHING, "decision": "declined"})
    if _has_non_us_phone(turn) and reminders.may_ask(turn.person, turn.data):
        # Coaching was out of reach, not refused: reminders get a question of their own.
        asked = {reminders.ASKED: True}
        return Step("declined_non_us", (Reply(text),), (record,), asked)
    return Step("declined", (Reply(text),), (record,))


def _has_non_us_phone(turn: Turn) -> bool:
    """The number we know (stored, else the SMS sender's) is a valid number outside the US."""
    inbound = turn.inbound
    sender = inbound.address if inbound.channel == Channel.SMS else None
    known = turn.person.phone_e164 or sender
    return known is not None and check_phone(known).kind is PhoneKind.FOREIGN


def _phone_step(turn: Turn) -> Step:
    if turn.person.under_13:  # marked under 13 (a re-import) since the question was put
        return _as(chat(turn), "under_13")
    if turn.choice_id == "decline":
        return _declined(turn)
    if turn.choice_id == "other":
        return Step("other_number")
    check = check_phone(turn.inbound.contact_phone or turn.text)
    if check.kind is PhoneKind.US:
        return Step("us_number", effects=(Effect("set_phone", {"e164": check.e164}),))
    if check.kind is PhoneKind.FOREIGN:
        t = turn.t
        reply = Reply(
            foreign_number(t, check.e164 or ""),
            (Choice("other", t._("Enter another number")), Choice("decline", t._("No thanks"))),
        )
        return Step("foreign_number", (reply,), (Effect("set_phone", {"e164": check.e164}),))
    return Step("bad_number", (Reply(phone_problem(turn.t, check.kind)),))


def _consent_prompt(turn: Turn) -> tuple[Reply, ...]:
    t = turn.t
    phone = turn.data.get("phone") or turn.person.phone_e164
    choices = (*yes_no(t), Choice("other", t._("Use another number")))
    return (Reply(consent_terms(t, mask(phone)), choices),)


def _consent_step(turn: Turn) -> Step:
    t = turn.t
    if turn.person.under_13:
        return _as(chat(turn), "under_13")
    if turn.choice_id == "other":
        return Step("other_number")
    if turn.choice_id not in ("yes", "no"):
        return Step("unclear", (Reply(t._("Please answer Yes or No.")),))
    decision = "granted" if turn.choice_id == "yes" else "declined"
    record = Effect("record_consent", {"purpose": COACHING, "decision": decision})
    if decision == "granted":
        text = t._(
            "You're signed up for coaching! Your coach will text you soon. "
            "Reply STOP to opt out at any time."
        )
    else:
        text = t._("Got it, no coaching texts. You can change this any time in /settings.")
    return Step(decision, (Reply(text),), (record,))


FLOW = Flow(
    name="onboarding",
    initial="start",
    transitions=TRANSITIONS,
    steps={
        "start": _start,
        "offer": _offer,
        "ask_phone": _phone_step,
        "foreign_phone": _phone_step,
        "retry_phone": _phone_step,
        "ask_consent": _consent_step,
        "ask_nudges": reminders.answer,
    },
    prompts={
        "ask_phone": _ask_phone_prompt,
        "retry_phone": _retry_phone_prompt,
        "ask_consent": _consent_prompt,
        "ask_nudges": reminders.question,
    },
    # After a question asked mid-way, the short request, not the whole introduction again.
    reasks={"ask_phone": _retry_phone_prompt, "foreign_phone": _retry_phone_prompt},
)
