"""Commands that work from any state: they move the conversation, whatever it was doing."""

from __future__ import annotations

from dataclasses import dataclass

from handlers.escalation import escalate
from handlers.flow import Effect
from handlers.queries import wants_human


@dataclass(frozen=True, slots=True)
class Command:
    target: str | None  # "flow:state" to enter, or None to stay where we are
    effect: Effect | None = None


COMMANDS: dict[str, Command] = {
    "/start": Command("onboarding:start"),
    "/settings": Command("settings:menu"),
    "/coaching": Command("onboarding:offer"),
    "/mydata": Command(None, Effect("show_my_data")),
    "/forgetme": Command("privacy:confirm_forget"),
    "/help": Command(None, Effect("show_help")),
    "/mentor": Command(None, escalate("mentor_request")),
    "/goals": Command("goals:menu", Effect("goals_show")),
    "/plan": Command("plan:menu", Effect("plan_show")),
    "/progress": Command(None, Effect("progress_show")),
}

# Plain words people type instead of commands, in every supported language.
WORDS = {
    "settings": "/settings",
    "ajustes": "/settings",
    "configuración": "/settings",
    "настройки": "/settings",
    "सेटिंग्स": "/settings",
    "help": "/help",
    "ayuda": "/help",
    "помощь": "/help",
    "मदद": "/help",
    "menu": "/help",
    "меню": "/help",
    "mentor": "/mentor",
    "ментор": "/mentor",
    "मेंटर": "/mentor",
    "mentora": "/mentor",
    "goals": "/goals",
    "metas": "/goals",
    "цели": "/goals",
    "लक्ष्य": "/goals",
    "plan": "/plan",
    "план": "/plan",
    "योजना": "/plan",
    "progress": "/progress",
    "progreso": "/progress",
    "прогресс": "/progress",
    "प्रगति": "/progress",
}


def find_command(text: str) -> tuple[str, Command] | None:
    """Match '/cmd', '/cmd@botname', '/cmd payload', a lone keyword such as 'settings', or a
    request for a person ("talk to a human", "quiero hablar con una persona"): /mentor."""
    stripped = text.strip()
    if not stripped or len(stripped) > 120:
        return None
    if wants_human(stripped):
        return "/mentor", COMMANDS["/mentor"]
    head = stripped.split()[0].lower()
    if head.startswith("/"):
        name = head.split("@", 1)[0]
        return (name, COMMANDS[name]) if name in COMMANDS else None
    name = WORDS.get(stripped.lower().strip("!.?¿¡ "))
    return (name, COMMANDS[name]) if name else None
