"""Settings: the student sees and changes coaching consent, study reminders, phone and
language at any time. A student under 13 is never offered a phone change, and may turn
reminders off but not on (a linked parent decides, handlers/parents.py)."""

from __future__ import annotations

from core.i18n import Gettext
from core.messages import Choice, Reply
from handlers.copy import COACHING, foreign_number, phone_problem
from handlers.flow import Effect, Flow, Step, Turn, table
from handlers.phones import PhoneKind, check_phone, mask
from handlers.reminders import confirmation, record, reminders_on, status_line

PARENT_UPDATES = "parent_updates"
LANGUAGES = (("en", "English"), ("es", "Español"), ("hi", "हिन्दी"), ("ru", "Русский"))

TRANSITIONS = table(
    ("menu", "consent_changed", "settings:menu"),
    ("menu", "needs_us_phone", "phone"),
    ("menu", "change_phone", "phone"),
    ("menu", "change_language", "language"),
    ("menu", "done", "main:idle"),
    ("menu", "unclear", "menu"),
    ("phone", "phone_saved", "menu"),
    ("phone", "bad_number", "phone"),
    ("phone", "cancel", "menu"),
    ("language", "chosen", "menu"),
    ("language", "unclear", "language"),
)


def _menu_prompt(turn: Turn) -> tuple[Reply, ...]:
    t, person = turn.t, turn.person
    lines, choices = [t._("Your settings:")], list[Choice]()
    if person.eligible_for_coaching and not person.under_13:
        coaching_on = person.has_consent(COACHING)
        lines.append(t._("Coaching texts: {status}", status=_on_off(t, coaching_on)))
        toggle = t._("Turn coaching off") if coaching_on else t._("Turn coaching on")
        choices.append(Choice("toggle", toggle))
    if person.role == "student":
        _reminders_setting(turn, lines, choices)
    if not person.under_13:  # a child is never asked for a phone number, here either
        lines.append(t._("Phone: {phone}", phone=mask(person.phone_e164)))
    lines.append(t._("Language: {language}", language=dict(LANGUAGES)[person.locale]))
    if person.role == "student":
        parents_on = person.has_consent(PARENT_UPDATES)
        lines.append(t._("Updates to your parents: {status}", status=_on_off(t, parents_on)))
        label = t._("Stop parent updates") if parents_on else t._("Allow parent updates")
        choices.append(Choice("parents", label))
    if not person.under_13:
        choices.append(Choice("phone", t._("Change phone")))
    choices += [Choice("language", t._("Change language")), Choice("done", t._("Done"))]
    return (Reply("\n".join(lines), tuple(choices)),)


def _reminders_setting(turn: Turn, lines: list[str], choices: list[Choice]) -> None:
    """Reminders as they stand (coaching consent covers them until the student decides), and
    the switch. A child may turn them off, but only a parent turns them on."""
    t, on = turn.t, reminders_on(turn.person)
    lines.append(status_line(t, on))
    if on:
        choices.append(Choice("reminders", t._("Turn reminders off")))
    elif turn.person.under_13:
        lines.append(t._("Only a parent can turn study reminders on."))
    else:
        choices.append(Choice("reminders", t._("Turn reminders on")))


def _on_off(t: Gettext, on: bool) -> str:
    return t._("on") if on else t._("off")


def _toggle_parent_updates(turn: Turn) -> Step:
    """The student's own permission for progress texts to their linked parents."""
    t = turn.t
    if turn.person.has_consent(PARENT_UPDATES):
        decision, text = "withdrawn", t._("Your parents won't get progress updates.")
    else:
        decision, text = "granted", t._("Your linked parents may now get weekly progress updates.")
    record = Effect("record_consent", {"purpose": PARENT_UPDATES, "decision": decision})
    return Step("consent_changed", (Reply(text),), (record,))


def _toggle_reminders(turn: Turn) -> Step:
    decision = "withdrawn" if reminders_on(turn.person) else "granted"
    return Step("consent_changed", (confirmation(turn.t, decision),), (record(decision),))


def _menu_step(turn: Turn) -> Step:
    choice = turn.choice_id
    if choice == "toggle":
        return _toggle(turn)
    if choice == "parents":
        return _toggle_parent_updates(turn)
    if choice == "reminders" and (reminders_on(turn.person) or not turn.person.under_13):
        return _toggle_reminders(turn)
    events = {"phone": "change_phone", "language": "change_language", "done": "done"}
    if choice in events and not (choice == "phone" and turn.person.under_13):
        done = (Reply(turn.t._("Settings saved.")),) if choice == "done" else ()
        return Step(events[choice], done)
    return Step("unclear", (Reply(turn.t._("Please pick one of the options.")),))


def _toggle(turn: Turn) -> Step:
    person, t = turn.person, turn.t
    if person.has_consent(COACHING):
        record = Effect("record_consent", {"purpose": COACHING, "decision": "withdrawn"})
        return Step("consent_changed", (Reply(t._("Coaching texts are off.")),), (record,))
    if check_phone(person.phone_e164 or "").kind is not PhoneKind.US:
        return Step(
            "needs_us_phone",
            (Reply(t._("Coaching needs a US phone number first.")),),
            data={"grant_after_phone": True},
        )
    record = Effect("record_consent", {"purpose": COACHING, "decision": "granted"})
    text = t._(
        "Coaching texts are on for {phone}. Reply STOP at any time to opt out.",
        phone=mask(person.phone_e164),
    )
    return Step("consent_changed", (Reply(text),), (record,))


def _phone_prompt(turn: Turn) -> tuple[Reply, ...]:
    t = turn.t
    # Not "Cancel": on SMS the typed label would be the CANCEL opt-out keyword.
    choices = (Choice("remove", t._("Remove my number")), Choice("cancel", t._("Back")))
    return (Reply(t._("Send me your new phone number."), choices, request_phone=True),)


def _phone_step(turn: Turn) -> Step:
    t = turn.t
    if turn.choice_id == "cancel":
        return Step("cancel", data={"grant_after_phone": False})
    if turn.choice_id == "remove":
        return _phone_saved(turn, None, t._("Your phone number is removed."))
    check = check_phone(turn.inbound.contact_phone or turn.text)
    if check.kind is PhoneKind.US:
        return _phone_saved(turn, check.e164, t._("Saved {phone}.", phone=mask(check.e164)))
    if check.kind is PhoneKind.FOREIGN:
        return _phone_saved(turn, check.e164, foreign_number(t, check.e164 or ""))
    return Step("bad_number", (Reply(phone_problem(t, check.kind)),))


def _phone_saved(turn: Turn, e164: str | None, text: str) -> Step:
    """Consent follows the number: a new US number carries it, anything else withdraws it."""
    effects = [Effect("set_phone", {"e164": e164})]
    is_us = e164 is not None and check_phone(e164).kind is PhoneKind.US
    wanted = turn.person.has_consent(COACHING) or turn.data.get("grant_after_phone")
    if wanted and is_us:
        effects.append(Effect("record_consent", {"purpose": COACHING, "decision": "granted"}))
    elif turn.person.has_consent(COACHING):
        effects.append(Effect("record_consent", {"purpose": COACHING, "decision": "withdrawn"}))
        text += "\n" + turn.t._("Coaching texts are off, since they need a US number.")
    return Step("phone_saved", (Reply(text),), tuple(effects), {"grant_after_phone": False})


def _language_prompt(turn: Turn) -> tuple[Reply, ...]:
    choices = tuple(Choice(code, label) for code, label in LANGUAGES)
    return (Reply(turn.t._("Which language should I use?"), choices),)


def _language_step(turn: Turn) -> Step:
    if turn.choice_id in dict(LANGUAGES):
        return Step("chosen", effects=(Effect("set_locale", {"locale": turn.choice_id}),))
    return Step("unclear", (Reply(turn.t._("Please pick one of the options.")),))


FLOW = Flow(
    name="settings",
    initial="menu",
    transitions=TRANSITIONS,
    steps={"menu": _menu_step, "phone": _phone_step, "language": _language_step},
    prompts={"menu": _menu_prompt, "phone": _phone_prompt, "language": _language_prompt},
)
