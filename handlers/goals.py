"""/goals: this week's goals with their progress, goals to pick (fitted to the student's
program and persona), one in their own words, and checking an own goal in as done.

What the menu shows comes from effects (bot/goal_effects.py): progress is read from learning
events in the turn's transaction. The flow decides only where the conversation goes.
"""

from __future__ import annotations

from core.messages import Choice, Reply
from handlers.flow import Effect, Flow, Step, Turn, table
from handlers.main import chat

TRANSITIONS = table(
    ("menu", "shown", "menu"),
    ("menu", "own", "own"),
    ("menu", "done", "main:idle"),
    ("menu", "chat", "main:idle"),
    ("own", "saved", "menu"),
    ("own", "back", "menu"),
    ("own", "unclear", "own"),
)
SHOW = Effect("goals_show")


def _menu(turn: Turn) -> Step:
    action, _, rest = (turn.choice_id or "").partition(":")
    if action == "set":
        kind, _, target = rest.partition(":")
        chosen = Effect("goals_set", {"kind": kind, "target": int(target or 1)})
        return Step("shown", effects=(chosen, SHOW))
    if action == "checkin" and rest.isdigit():
        return Step("shown", effects=(Effect("goals_check_in", {"id": int(rest)}), SHOW))
    if action == "own":
        return Step("own", (_own_question(turn),))
    if action == "close":
        return Step(
            "done", (Reply(turn.t._("Good luck this week! /progress shows how it goes.")),)
        )
    return chat(turn)  # anything typed: the student has moved on; answer it as usual


def _own_question(turn: Turn) -> Reply:
    # Asked by the step, not a prompt: a typed goal must never be taken for a question.
    text = turn.t._("Write your goal for this week in a few words.")
    return Reply(text, (Choice("back", turn.t._("Back")),))


def _own(turn: Turn) -> Step:
    if turn.choice_id == "back":
        return Step("back", effects=(SHOW,))
    if not turn.text or turn.text.startswith("/"):
        return Step("unclear", (_own_question(turn),))
    chosen = Effect("goals_set", {"kind": "own", "target": 1, "text": turn.text})
    return Step("saved", effects=(chosen, SHOW))


FLOW = Flow(
    name="goals", initial="menu", transitions=TRANSITIONS, steps={"menu": _menu, "own": _own}
)
