"""/plan: the week's plan (which activity on which day, at the student's usual hours);
accept it, move an item to another day, or change the day the plan comes on.

The plan itself is read and written by effects (bot/plan_effects.py); the flow decides only
where the conversation goes, and keeps which item is being moved.
"""

from __future__ import annotations

from core.messages import Choice, Reply
from handlers.flow import Effect, Flow, Step, Turn, table
from handlers.main import chat
from scheduler.goal_texts import weekday_name

TRANSITIONS = table(
    ("menu", "shown", "menu"),
    ("menu", "move", "move"),
    ("menu", "day", "day"),
    ("menu", "done", "main:idle"),
    ("menu", "chat", "main:idle"),
    ("move", "moved", "menu"),
    ("move", "back", "menu"),
    ("move", "unclear", "move"),
    ("day", "chosen", "menu"),
    ("day", "back", "menu"),
    ("day", "unclear", "day"),
)
SHOW = Effect("plan_show")


def _menu(turn: Turn) -> Step:
    action, _, rest = (turn.choice_id or "").partition(":")
    if action == "accept":
        return Step("shown", effects=(Effect("plan_accept"), SHOW))
    if action == "move" and rest.isdigit():
        ask = Effect("plan_ask_day", {"index": int(rest)})
        return Step("move", effects=(ask,), data={"moving": int(rest)})
    if action == "day":
        return Step("day", (_weekday_question(turn),))
    if action == "close":
        return Step("done", (Reply(turn.t._("Your plan is saved. /plan shows it any time.")),))
    return chat(turn)  # anything typed: the student has moved on; answer it as usual


def _move(turn: Turn) -> Step:
    action, _, day = (turn.choice_id or "").partition(":")
    if action == "day" and day:
        moved = Effect("plan_move", {"index": turn.data.get("moving", -1), "day": day})
        return Step("moved", effects=(moved, SHOW))
    if action == "back":
        return Step("back", effects=(SHOW,))
    return Step("unclear", (Reply(turn.t._("Please pick one of the options.")),))


def _weekday_question(turn: Turn) -> Reply:
    t = turn.t
    days = tuple(Choice(f"weekday:{n}", weekday_name(n, t.locale)) for n in range(7))
    return Reply(
        t._("Which day should your weekly plan come on?"), (*days, Choice("back", t._("Back")))
    )


def _day(turn: Turn) -> Step:
    action, _, number = (turn.choice_id or "").partition(":")
    if action == "weekday" and number.isdigit():
        chosen = Effect("plan_set_weekday", {"weekday": int(number)})
        return Step("chosen", effects=(chosen, SHOW))
    if action == "back":
        return Step("back", effects=(SHOW,))
    return Step("unclear", (Reply(turn.t._("Please pick one of the options.")),))


FLOW = Flow(
    name="plan",
    initial="menu",
    transitions=TRANSITIONS,
    steps={"menu": _menu, "move": _move, "day": _day},
)
