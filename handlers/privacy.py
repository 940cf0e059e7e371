"""Data rights: see what is stored (/mydata) and erase it (/forgetme, confirmed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.i18n import Gettext
from bot.messages import Reply
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


def describe_stored_data(t: Gettext, snapshot: Mapping[str, Any]) -> str:
    """Render what we store about a person; the snapshot comes from the repository."""
    lines = [t._("This is what we store about you:")]
    profile = snapshot["profile"]
    lines.append(t._("Name: {name}", name=profile.get("display_name") or "—"))
    lines.append(t._("Phone: {phone}", phone=mask(profile.get("phone_e164"))))
    lines.append(
        t._(
            "Language: {language}; time zone: {zone}",
            language=profile.get("locale") or "—",
            zone=profile.get("time_zone") or "—",
        )
    )
    lines.append(
        t._(
            "Program: {program}; track: {track}",
            program=profile.get("program") or "—",
            track=profile.get("track") or "—",
        )
    )
    lines.append(t._("Channels: {channels}", channels=", ".join(snapshot["channels"]) or "—"))
    lines.append(
        t.ngettext("{n} message in our log", "{n} messages in our log", snapshot["message_count"])
    )
    lines.extend(_consent_lines(t, snapshot["consents"]))
    lines.append(t._("To erase it all, send /forgetme."))
    return "\n".join(lines)


def _consent_lines(t: Gettext, consents: Sequence[Mapping[str, str]]) -> list[str]:
    if not consents:
        return [t._("Consent history: none")]
    lines = [t._("Consent history:")]
    for item in consents:
        lines.append(
            t._(
                "{date}: {purpose}, {decision}",
                date=item["date"],
                purpose=item["purpose"],
                decision=item["decision"],
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
