"""Mentor commands, channel-neutral: what a mentor typed or pressed, as an effect.

The engine checks the role once, before any of this runs: only mentors and admins get here, and
anyone else typing these commands is told they are for mentors (`is_staff_command`). Text that
is not a command is relayed to the student the mentor is talking to. /settings, /mydata and
/forgetme stay the ordinary commands (None here).
"""

from __future__ import annotations

from core.i18n import Gettext
from core.messages import Reply
from handlers.flow import Effect, Turn

STAFF_COMMANDS = frozenset(
    {"/queue", "/take", "/mine", "/release", "/resolve", "/note", "/available"}
)
_PASS_THROUGH = frozenset({"/settings", "/mydata", "/forgetme"})


def _command(text: str) -> tuple[str, str]:
    head, _, rest = text.strip().partition(" ")
    return head.split("@", 1)[0].lower(), rest.strip()


def is_staff_command(text: str) -> bool:
    return text.strip().startswith("/") and _command(text)[0] in STAFF_COMMANDS


def mentor_help(t: Gettext) -> Reply:
    return Reply(t._(
        "Mentor commands:\n/queue: requests waiting for a mentor\n/take NUMBER: take one\n"
        "/mine: the conversations you hold\n/release: hand the student back to the bot\n"
        "/resolve TAG: close the request with a tag\n/note TEXT: a private note on the student\n"
        "/available on|off: whether you get new requests\n"
        "While you hold a conversation, whatever else you write goes to the student."
    ))  # fmt: skip


_LARGEST_ID = 2**31 - 1  # ids are 32-bit integers in PostgreSQL; larger ones name nobody


def _row_id(text: str) -> int | None:
    """A request's or person's id as typed or pressed: ASCII digits within the id range."""
    if not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if number <= _LARGEST_ID else None


def _button(choice: str) -> Effect | None:
    action, _, number = choice.partition(":")
    found = _row_id(number)
    if action in ("take", "pass") and found is not None:
        return Effect(f"desk_{action}", {"id": found})
    if action == "card" and found is not None:  # the daily brief's button: a student's card
        return Effect("desk_card", {"student": found})
    return None


def _typed(name: str, rest: str) -> Effect | None:
    if name == "/take":
        found = _row_id(rest.lstrip("#"))
        return Effect("desk_take", {"id": found}) if found is not None \
            else Effect("desk_usage", {"command": "/take NUMBER"})
    if name == "/resolve":
        tag = rest.split()[0].lower()[:32] if rest else "resolved"
        return Effect("desk_resolve", {"tag": tag})
    if name == "/note":
        return Effect("desk_note", {"text": rest}) if rest \
            else Effect("desk_usage", {"command": "/note TEXT"})
    if name == "/available":
        if rest.lower() not in ("on", "off"):
            return Effect("desk_usage", {"command": "/available on|off"})
        return Effect("desk_available", {"on": rest.lower() == "on"})
    simple = {"/queue": "desk_queue", "/mine": "desk_mine", "/release": "desk_release"}
    return Effect(simple[name]) if name in simple else None


def staff_effect(turn: Turn) -> Effect | None:
    """The effect for a mentor's message; None leaves it to the ordinary commands and flows."""
    if turn.choice_id:
        return _button(turn.choice_id)
    text = turn.text
    if not text:
        return None
    if text.startswith("/"):
        name, rest = _command(text)
        if name in _PASS_THROUGH:
            return None
        if name in ("/help", "/start"):
            return Effect("desk_help")
        return _typed(name, rest) or Effect("desk_help")
    return Effect("desk_relay", {"text": text})
