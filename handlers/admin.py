"""Admin commands, channel-neutral: what an admin typed or pressed, as an effect.

The gate checks the role on every message and every button before any of this runs: an admin
command or button from anyone else is refused with nothing changed. Buttons carry
`adm:<action>:<argument>`; the argument is checked again where it is used.
"""

from __future__ import annotations

from core.i18n import Gettext
from core.messages import Reply
from handlers.flow import Effect, Turn

BUTTON_PREFIX = "adm:"
# Command -> effect; the menu offers exactly these (bot/channels/telegram_menus.py).
ADMIN_COMMANDS: dict[str, str] = {
    "/stats": "admin_stats",
    "/campaigns": "admin_campaigns",
    "/broadcast": "admin_broadcast",
    "/find": "admin_find",
    "/mentors": "admin_mentors",
    "/admins": "admin_admins",
    "/export": "admin_export",
    "/review": "admin_review",
    "/audit": "admin_audit",
}


def _command(text: str) -> tuple[str, str]:
    head, _, rest = text.strip().partition(" ")
    return head.split("@", 1)[0].lower(), rest.strip()


def is_admin_command(text: str) -> bool:
    return text.strip().startswith("/") and _command(text)[0] in ADMIN_COMMANDS


def is_admin_button(choice_id: str | None) -> bool:
    return bool(choice_id) and str(choice_id).startswith(BUTTON_PREFIX)


def admin_help(t: Gettext) -> Reply:
    return Reply(t._(
        "Admin commands:\n/stats: consent, campaigns with lift, answers, mentors; charts\n"
        "/campaigns: campaigns, their results, pause and resume\n"
        "/broadcast: an approved message to a group of students\n"
        "/find NAME|LMS id: a student's card\n/mentors: mentors, their load, invite, remove\n"
        "/admins: admins, invite one\n/review: deliveries held for review: resend or drop\n"
        "/export [DAYS]: CSV files of consent records, "
        "deliveries, escalations and campaign results\n/audit: the latest admin actions"
    ))  # fmt: skip


def admin_effect(turn: Turn) -> Effect | None:
    """The effect for an admin command or button; None when the message is not one."""
    if turn.choice_id:
        if not is_admin_button(turn.choice_id):
            return None
        parts = turn.choice_id.split(":", 2)
        argument = parts[2] if len(parts) > 2 else ""
        return Effect(f"admin_{parts[1]}", {"arg": argument})
    if not is_admin_command(turn.text or ""):
        return None
    name, rest = _command(turn.text)
    return Effect(ADMIN_COMMANDS[name], {"arg": rest})
