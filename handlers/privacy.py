"""Data rights: see what is stored (/mydata) and erase it (/forgetme, confirmed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from core.i18n import Gettext
from core.messages import Reply
from handlers.copy import yes_no
from handlers.flow import Effect, Flow, Step, Turn, table
from handlers.phones import mask

TRANSITIONS = table(
    ("confirm_forget", "erase", "onboarding:start"),
    ("confirm_forget", "keep", "main:idle"),
    ("confirm_forget", "unclear", "confirm_forget"),
)


def _confirm_prompt(turn: Turn) -> tuple[Reply, ...]:
    t = turn.t
    text = t._(
        "This erases your profile, phone numbers, chat history and settings. Consent records we "
        "must keep are reduced to a one-way hash of the phone number, the purpose, the decision "
        "and the date. Erase everything?"
    )
    return (Reply(text, yes_no(t)),)


def _confirm_step(turn: Turn) -> Step:
    t = turn.t
    if turn.choice_id == "yes":
        return Step(
            "erase",
            (Reply(t._("Done: your data is erased. Goodbye!")),),
            (Effect("erase_person"),),
        )
    if turn.choice_id == "no":
        return Step("keep", (Reply(t._("Nothing was erased.")),))
    return Step("unclear", (Reply(t._("Please answer Yes or No.")),))


def describe_stored_data(t: Gettext, held: Mapping[str, Any], *, with_file: bool) -> str:
    """What we hold about a person, in their language; `held` is storage.export's dict."""
    profile = held["profile"]
    lines = [
        t._("This is what we store about you:"),
        t._("Name: {name}", name=profile.get("display_name") or "—"),
        t._("Phone: {phone}", phone=mask(profile.get("phone_e164"))),
        t._("Language: {language}; time zone: {zone}",
            language=profile.get("locale") or "—", zone=profile.get("time_zone") or "—"),
        t._("Program: {program}; track: {track}",
            program=profile.get("program") or "—", track=profile.get("track") or "—"),
        t._("Channels: {channels}",
            channels=", ".join(_channel(t, c["channel"]) for c in held["channels"]) or "—"),
        *_counts(t, held),
        *_consent_lines(t, held["consents"]),
    ]  # fmt: skip
    if with_file:
        lines.append(t._("The attached file (JSON) holds all of it, message by message."))
    else:
        lines.append(t._("For a file with all of it, send /mydata on Telegram or in the web "
                         "chat, or ask your school."))  # fmt: skip
    lines.append(t._("To erase it all, send /forgetme."))
    return "\n".join(lines)


def _counts(t: Gettext, held: Mapping[str, Any]) -> list[str]:
    messages, sent = len(held["messages"]), len(held["deliveries"])
    events, requests = len(held["learning_events"]), len(held["escalations"])
    return [
        t.ngettext("{n} message from you", "{n} messages from you", messages),
        t.ngettext("{n} message to you", "{n} messages to you", sent),
        t.ngettext("{n} learning event from your school", "{n} learning events from your school",
                   events),
        t.ngettext("{n} request to a mentor", "{n} requests to a mentor", requests),
    ]  # fmt: skip


def _channel(t: Gettext, code: str) -> str:
    names = {"telegram": "Telegram", "sms": t._("SMS"), "webchat": t._("web chat")}
    return names.get(code, code)


def purpose_label(t: Gettext, purpose: str) -> str:
    labels = {
        "coaching": t._("coaching by text"),
        "nudges": t._("study reminders"),
        "parent_updates": t._("progress updates to your parents"),
        "parent_sms": t._("texts to you as a parent"),
    }
    return labels.get(purpose, purpose)


def decision_label(t: Gettext, decision: str) -> str:
    labels = {"granted": t._("agreed"), "declined": t._("declined"), "withdrawn": t._("withdrawn")}
    return labels.get(decision, decision)


def _consent_lines(t: Gettext, consents: Sequence[Mapping[str, Any]]) -> list[str]:
    if not consents:
        return [t._("Consent history: none")]
    lines = [t._("Consent history:")]
    for item in consents:
        lines.append(
            t._(
                "{date}: {purpose}, {decision}",
                date=str(item["created_at"])[:10],
                purpose=purpose_label(t, item["purpose"]),
                decision=decision_label(t, item["decision"]),
            )
        )
    return lines


FLOW = Flow(
    name="privacy",
    initial="confirm_forget",
    transitions=TRANSITIONS,
    steps={"confirm_forget": _confirm_step},
    prompts={"confirm_forget": _confirm_prompt},
)
