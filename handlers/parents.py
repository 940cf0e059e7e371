"""Parents by SMS: confirm their own consent by reply, decide their young children's study
reminders, then digests. (MENTOR is a command for everyone: it raises an escalation,
handlers/commands.py.)

A parent is linked to students by staff (API or CSV import); the school's record is not the
parent's consent, so the first contact asks YES/NO and records purpose "parent_sms" (actor
self). Digests also need the student's own "parent_updates" permission (checked elsewhere).

Students under 13 are never asked about study reminders: a linked parent decides. Right after
their own question, a parent is asked once per child under 13 that nobody has decided for; the
answer is recorded on the child (purpose "nudges", actor "parent:<id>", by the effect, which
checks the link again). REMINDERS asks again, to change a decision. Parents of students of 13
and over are never asked: those students decide themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.i18n import Gettext
from core.messages import Choice, Reply
from core.text import fold_for_matching
from handlers.copy import yes_no
from handlers.flow import Effect, Flow, Step, Turn, Ward, table
from handlers.phones import mask
from handlers.reminders import NUDGES, NUDGES_TEXT_VERSION

PARENT_SMS = "parent_sms"
# What a parent replies to decide about their children's reminders again; the texts name it.
REMINDERS_WORDS = frozenset({"reminders", "reminder", "recordatorios", "напоминания", "रिमाइंडर"})
# Conversation data: children asked about (answered or not: never asked again unprompted),
# children to ask about again after REMINDERS, and the child the pending question is about.
ASKED, REVIEW, WARD = "wards_asked", "wards_review", "ward"

TRANSITIONS = table(
    ("start", "ask", "ask_consent"),
    ("start", "chat", "idle"),
    ("start", "children", "next_child"),
    ("ask_consent", "granted", "next_child"),
    ("ask_consent", "declined", "next_child"),
    ("ask_consent", "unclear", "ask_consent"),
    ("next_child", "ask", "ask_reminders"),
    ("next_child", "done", "idle"),
    ("ask_reminders", "decided", "next_child"),
    ("ask_reminders", "unclear", "ask_reminders"),
    ("idle", "chat", "idle"),
    ("idle", "children", "next_child"),
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
        return Reply(_with_reminders_hint(turn, text))
    text = t._("You don't get progress texts now. Would you like weekly updates by text?")
    return Reply(_with_reminders_hint(turn, text), yes_no(t))


def _with_reminders_hint(turn: Turn, text: str) -> str:
    if not turn.person.wards:
        return text
    hint = turn.t._("Reply REMINDERS to decide about study reminders for your child.")
    return text + "\n" + hint


def _chat(turn: Turn) -> Step:
    if _is_reminders_word(turn.text) and turn.person.wards:
        return Step("children", data={REVIEW: [w.id for w in turn.person.wards]})
    if turn.choice_id in ("yes", "no") and not turn.person.has_consent(PARENT_SMS):
        return _decided(turn, "chat")
    if next_ward(turn.person.wards, turn.data) is not None:  # a child linked since
        return Step("children")
    return Step("chat", (_parent_help(turn),))


def _is_reminders_word(text: str) -> bool:
    return fold_for_matching(text) in REMINDERS_WORDS


def _start(turn: Turn) -> Step:
    if PARENT_SMS not in turn.person.consent:
        return Step("ask")
    return _chat(turn)


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
    if next_ward(turn.person.wards, turn.data) is not None:
        # A question about a child comes next: a "YES" must not seem to answer this one.
        reply = Reply(t._("Got it, no progress texts."))
    else:
        text = t._("Got it, no progress texts. Reply YES if you change your mind.")
        reply = Reply(text, (Choice("yes", t._("Get updates")),))
    return Step(event or "declined", (reply,), (_record("declined"),))


def _ask_step(turn: Turn) -> Step:
    if turn.choice_id in ("yes", "no"):
        return _decided(turn)
    return Step("unclear", (Reply(turn.t._("Please answer Yes or No.")),))


def next_ward(wards: tuple[Ward, ...], data: Mapping[str, Any]) -> Ward | None:
    """The child to ask about: one the parent asked to review, else one nobody has decided for
    and this parent was not asked about yet."""
    by_id = {w.id: w for w in wards}
    for ward_id in data.get(REVIEW) or ():
        if ward_id in by_id:
            return by_id[ward_id]
    asked = set(data.get(ASKED) or ())
    return next((w for w in wards if w.nudges is None and w.id not in asked), None)


def _next_child(turn: Turn) -> Step:
    """Automatic: on to the next child's question, or to rest when there is none."""
    ward = next_ward(turn.person.wards, turn.data)
    if ward is None:
        return Step("done", data={REVIEW: [], WARD: None})
    asked = sorted({*(turn.data.get(ASKED) or ()), ward.id})
    review = [i for i in turn.data.get(REVIEW) or () if i != ward.id]
    return Step("ask", data={WARD: ward.id, ASKED: asked, REVIEW: review})


def _child_name(t: Gettext, ward: Ward | None) -> str:
    name = (ward.name or "").split(" ")[0] if ward else ""
    return name or t._("your child")


def _ward(turn: Turn) -> Ward | None:
    return next((w for w in turn.person.wards if w.id == turn.data.get(WARD)), None)


def _reminders_prompt(turn: Turn) -> tuple[Reply, ...]:
    t = turn.t
    text = t._(
        "May {name} get study reminders from us, such as a class coming up or an assignment "
        "due (at most two a day)? {name} is under 13, so you decide. Reply REMINDERS later "
        "to change this.",
        name=_child_name(t, _ward(turn)),
    )
    return (Reply(text, yes_no(t)),)


def _reminders_step(turn: Turn) -> Step:
    t, ward = turn.t, _ward(turn)
    if ward is None:  # no longer linked, or turned 13 meanwhile: nothing to decide here
        return Step("decided")
    if turn.choice_id not in ("yes", "no"):
        return Step("unclear", (Reply(t._("Please answer Yes or No.")),))
    name = _child_name(t, ward)
    if turn.choice_id == "yes":
        decision, text = "granted", t._("Thanks! {name} may get study reminders.", name=name)
    else:
        decision = "withdrawn" if ward.nudges == "granted" else "declined"
        text = t._("Got it, no study reminders for {name}.", name=name)
    args = {"child_id": ward.id, "purpose": NUDGES, "decision": decision}
    effect = Effect("record_child_consent", {**args, "text_version": NUDGES_TEXT_VERSION})
    return Step("decided", (Reply(text),), (effect,), {WARD: None})


FLOW = Flow(
    name="parents",
    initial="start",
    transitions=TRANSITIONS,
    steps={
        "start": _start,
        "ask_consent": _ask_step,
        "idle": _chat,
        "next_child": _next_child,
        "ask_reminders": _reminders_step,
    },
    prompts={"ask_consent": _ask_prompt, "ask_reminders": _reminders_prompt},
)
