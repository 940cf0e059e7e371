"""Compliance keywords, answered before any flow or command sees the message.

Channel-neutral: the caller says what the keyword is about (a phone number or one chat), what
its state is, and applies the effects.

- A number (SMS), by the carriers' rules: STOP and friends opt the number out (everyone who
  shares it) with exactly one confirmation; START/UNSTOP (and YES, only while opted out) opt
  back in; HELP says who we are and how to stop; PAUSE silences proactive texts for two weeks.
- A chat (Telegram, web chat): STOP stops the proactive messages of that chat (nudges,
  broadcasts, digests), never the answers to what the person writes; PAUSE pauses them; START
  resumes either; HELP says who we are and how to stop. Each is confirmed every time: there is
  no carrier rule against it, and a silent bot leaves the person guessing.

Everything else is an ordinary message.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from core.i18n import Gettext
from core.messages import Reply
from handlers.flow import Effect
from handlers.keywords import Keyword, classify, normalize

PAUSE_DAYS = 14


class Scope(StrEnum):
    NUMBER = "number"  # SMS: the phone number, for everyone who shares it
    CHAT = "chat"  # one chat identity (Telegram, web chat): its proactive messages


@dataclass(frozen=True, slots=True)
class OptState:
    opted_out: bool = False
    paused: bool = False  # a pause that has not ended yet


@dataclass(frozen=True, slots=True)
class ComplianceAnswer:
    """Replies go out as kind "compliance" (even to an opted-out number); effects first."""

    replies: tuple[Reply, ...] = ()
    effects: tuple[Effect, ...] = ()


def help_text(t: Gettext) -> str:
    return t._(
        "Mentorbot: study coaching and progress texts from your school program. "
        "Msg frequency varies. Msg & data rates may apply. Reply STOP to opt out, "
        "PAUSE to pause for 2 weeks, START to opt back in."
    )


def keyword_of(
    text: str, scope: Scope, *, pressed: bool = False, answered: str | None = None
) -> Keyword | None:
    """The compliance keyword a message is, or None for an ordinary message.

    `answered` is the keyword the carrier already answered (Twilio's OptOutType): it decides,
    since the carrier has acted on it whatever we make of the words. A pressed button is an
    answer, never a keyword. In a chat, YES answers the bot's questions and /help, /start are
    the bot's commands; only /stop is what people type to stop a bot.
    """
    if answered is not None:
        return Keyword(answered)
    if pressed:
        return None
    keyword = classify(text)
    command_or_yes = text.lstrip().startswith("/") or normalize(text) == "yes"
    if scope is Scope.CHAT and keyword is not Keyword.OPT_OUT and command_or_yes:
        return None
    return keyword


def compliance_answer(
    keyword: Keyword,
    text: str,
    state: OptState,
    t: Gettext,
    scope: Scope = Scope.NUMBER,
    *,
    answered: bool = False,
) -> ComplianceAnswer | None:
    """What to do about a compliance keyword; None lets the message through as ordinary.

    `answered`: the carrier already answered it (the caller sends none of the replies)."""
    if scope is Scope.CHAT:
        return _for_chat(keyword, state, t)
    return _for_number(keyword, text, state, t, answered)


def _paused(t: Gettext) -> str:
    return t._(
        "Reminders are paused for {days} days. Reply START to resume sooner, STOP to opt out.",
        days=PAUSE_DAYS,
    )


def _resumed(t: Gettext) -> str:
    return t._("Reminders are on again. Reply PAUSE to pause them, STOP to opt out.")


def _for_number(
    keyword: Keyword, text: str, state: OptState, t: Gettext, answered: bool
) -> ComplianceAnswer | None:
    if keyword is Keyword.OPT_OUT:
        if state.opted_out:
            return ComplianceAnswer()  # one confirmation only: a second STOP stays silent
        confirm = t._(
            "You're unsubscribed and will get no more texts from us. Reply START to resubscribe."
        )
        return ComplianceAnswer((Reply(confirm),), (Effect("phone_opt_out"),))
    if keyword is Keyword.OPT_IN and state.opted_out:
        welcome = t._("You're subscribed again. Reply STOP to opt out, HELP for help.")
        return ComplianceAnswer((Reply(welcome),), (Effect("phone_opt_in"),))
    # YES while paused is an ordinary answer: only a number that opted out says YES to opt in.
    # A START the carrier answered is an opt-in whatever we knew: its reply said so.
    if keyword is Keyword.OPT_IN and (state.paused or answered) and normalize(text) != "yes":
        return ComplianceAnswer((Reply(_resumed(t)),), (Effect("phone_opt_in"),))
    if keyword is Keyword.HELP:
        return ComplianceAnswer((Reply(help_text(t)),))
    if keyword is Keyword.PAUSE and not state.opted_out:
        pause = Effect("phone_pause", {"days": PAUSE_DAYS})
        return ComplianceAnswer((Reply(_paused(t)),), (pause,))
    return None


def _chat_stopped(t: Gettext) -> str:
    return t._(
        "Done: you won't get reminders or other updates from us here. I'll still answer "
        "whenever you write. Reply START to turn them back on."
    )


def chat_help_text(t: Gettext) -> str:
    return t._(
        "Mentorbot: study coaching and reminders from your school program. Reply STOP to stop "
        "reminders here, PAUSE to pause them for {days} days, START to turn them back on. "
        "/help shows what else I can do.",
        days=PAUSE_DAYS,
    )


def _for_chat(keyword: Keyword, state: OptState, t: Gettext) -> ComplianceAnswer | None:
    stopped = (Reply(_chat_stopped(t)),)
    if keyword is Keyword.OPT_OUT:
        return ComplianceAnswer(stopped, () if state.opted_out else (Effect("chat_opt_out"),))
    if keyword is Keyword.OPT_IN and (state.opted_out or state.paused):
        return ComplianceAnswer((Reply(_resumed(t)),), (Effect("chat_opt_in"),))
    if keyword is Keyword.HELP:
        return ComplianceAnswer((Reply(chat_help_text(t)),))
    if keyword is Keyword.PAUSE:
        if state.opted_out:  # already off: pausing would change nothing, so say how to resume
            return ComplianceAnswer(stopped)
        return ComplianceAnswer(
            (Reply(_paused(t)),), (Effect("chat_pause", {"days": PAUSE_DAYS}),)
        )
    return None
