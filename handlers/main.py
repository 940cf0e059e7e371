"""The resting state: questions answered from the knowledge base, help, the consent way back.

Order matters: a pressed button first, then a pending consent question (coaching, or study
reminders for a student never asked), then requests for a human, small talk, and finally the
knowledge base (an approved answer or an honest "not sure").
"""

from __future__ import annotations

from core.i18n import Gettext
from core.messages import Choice, Reply
from handlers.copy import COACHING
from handlers.digressions import answer_before_a_question
from handlers.escalation import escalate
from handlers.flow import Effect, Flow, Step, Turn, table
from handlers.queries import (
    ASK_MENTOR,
    HELPFUL_NO,
    HELPFUL_YES,
    answer_replies,
    feedback,
    not_sure_reply,
    record_answer,
    small_talk,
    wants_human,
)
from handlers.reminders import ASKED, reminders_open

TRANSITIONS = table(
    ("idle", "consent_pending", "onboarding:ask_phone"),
    ("idle", "reminders_pending", "onboarding:ask_nudges"),
    ("idle", "settings", "settings:menu"),
    ("idle", "forget", "privacy:confirm_forget"),
    ("idle", "chat", "idle"),
)


def help_reply(t: Gettext) -> Reply:
    text = t._(
        "I'm your mentor bot. Ask me about your course: logging in, missed classes and "
        "recordings, the schedule, assignments and deadlines, tests, certificates, payments, "
        "technical problems, or coaching for your studies and career.\n"
        "/mentor: talk to a human mentor\n"
        "/settings: coaching, phone and language\n/mydata: what we store about you\n"
        "/forgetme: erase your data\n/help: this message"
    )
    text += "\n" + t._(
        "/goals: your goals for the week\n/plan: your study plan for the week\n"
        "/progress: streaks, points and badges"
    )
    return Reply(text, (Choice("settings", t._("Settings")), Choice("mydata", t._("My data"))))


def _idle(turn: Turn) -> Step:
    person = turn.person
    if turn.choice_id == "settings":
        return Step("settings")
    if turn.choice_id == "mydata":
        return Step("chat", effects=(Effect("show_my_data"),))
    if turn.choice_id in (HELPFUL_YES, HELPFUL_NO):
        replies, effects = feedback(turn)
        return Step("chat", replies, effects, {"kb_entry": None})
    if turn.choice_id == ASK_MENTOR:
        return Step("chat", effects=(escalate("mentor_request"),))
    pending = (
        person.eligible_for_coaching and not person.under_13 and COACHING not in person.consent
    )
    if pending:
        return Step("consent_pending")
    if reminders_open(person, turn.data):  # e.g. the first contact was a command
        return before_reminders_question(turn, "reminders_pending")
    return chat(turn)


def before_reminders_question(turn: Turn, event: str) -> Step:
    """What a message gets when the reminders question follows it: one question at a time,
    so an answer comes without "Did this help?", and anything else with a short hello
    instead of the help and its buttons. The question is marked as put: whatever happens
    next, it is not put again."""
    answered = answer_before_a_question(turn)
    if answered is not None:
        return Step(event, answered.replies, answered.effects, {ASKED: True})
    hello = turn.t._(
        "Hi! I'm your mentor bot. Ask me anything about your course, or type /help to see "
        "what I can do."
    )
    return Step(event, (Reply(hello),), data={ASKED: True})


def chat(turn: Turn) -> Step:
    """Whatever a resting student writes: a human on request, small talk, or a question."""
    t, text = turn.t, turn.text
    if wants_human(text):
        return Step("chat", effects=(escalate("mentor_request"),))
    talk = small_talk(text) if text and not text.startswith("/") else "greeting"
    if talk == "thanks":
        return Step("chat", (Reply(t._("You're welcome! Ask me anything about your course.")),))
    if talk == "ack":
        return Step("chat", (Reply(t._("👍 Ask me anything about your course, or type /help.")),))
    if talk == "greeting" or turn.knowledge is None:
        return Step("chat", (help_reply(t),))
    match = turn.knowledge.best(text, turn.person.locale, turn.person.program)
    confidence = match.confidence if match else 0.0
    if match and turn.knowledge.confident(match):
        data = {"kb_entry": match.entry.id, "not_sure": 0}
        return Step("chat", answer_replies(t, match), (record_answer(match, confidence),), data)
    recorded = record_answer(None, confidence)
    if turn.data.get("not_sure", 0) >= 1:  # the second "not sure" in a row: a human takes it
        return Step("chat", effects=(recorded, escalate("not_sure")), data={"not_sure": 0})
    return Step("chat", (not_sure_reply(t),), (recorded,), {"not_sure": 1})


FLOW = Flow(name="main", initial="idle", transitions=TRANSITIONS, steps={"idle": _idle})
