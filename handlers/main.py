"""The resting state: short help, and the way back into the consent question if it is pending."""

from __future__ import annotations

from bot.i18n import Gettext
from bot.messages import Choice, Reply
from handlers.copy import COACHING
from handlers.flow import Effect, Flow, Step, Turn, table

TRANSITIONS = table(
    ("idle", "consent_pending", "onboarding:ask_phone"),
    ("idle", "settings", "settings:menu"),
    ("idle", "forget", "privacy:confirm_forget"),
    ("idle", "chat", "idle"),
)


def help_reply(t: Gettext) -> Reply:
    text = t._(
        "I'm your mentor bot. I can help with your coaching sign-up, your settings "
        "and your data.\n"
        "/settings: coaching, phone and language\n/mydata: what we store about you\n"
        "/forgetme: erase your data\n/help: this message"
    )
    return Reply(text, (Choice("settings", t._("Settings")), Choice("mydata", t._("My data"))))


def _idle(turn: Turn) -> Step:
    person = turn.person
    if turn.choice_id == "settings":
        return Step("settings")
    if turn.choice_id == "mydata":
        return Step("chat", effects=(Effect("show_my_data"),))
    pending = (
        person.eligible_for_coaching and not person.under_13 and COACHING not in person.consent
    )
    if pending:
        return Step("consent_pending")
    return Step("chat", (help_reply(turn.t),))


FLOW = Flow(name="main", initial="idle", transitions=TRANSITIONS, steps={"idle": _idle})
