"""The scenario x persona nudge catalog: which words a student gets, in which tone.

Templates are English msgids with named placeholders: {name} {course} {class_title} {due}
{score} {days} {streak} {peers_done} {peers_total} {link}. Callers pass `{due}` already
formatted for the student's locale and zone, and attach `{link}` to the button themselves.
`{streak}` counts consecutive active days; `{score}` is a whole percentage.
`pick_template` falls back from (engagement, band) to band only, engagement only, then the
scenario default, so a scenario only spells out the personas whose tone differs.

Optional lines are added only when the data supports them: social proof when at least
`SOCIAL_PROOF_MIN_PEERS` classmates are counted and between `SOCIAL_PROOF_MIN_SHARE` and
`SOCIAL_PROOF_MAX_SHARE` of them are done (above that it reads as "everyone but you"); it is
never attached to slipping or lapsed students. The streak line needs `streak >= STREAK_MIN`.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from core.i18n import N_, N_plural
from scheduler.personas import Engagement, Performance

Gettext = Callable[[str], str]
Ngettext = Callable[[str, str, int], str]

SOCIAL_PROOF_MIN_PEERS = 5
SOCIAL_PROOF_MIN_SHARE = 0.5
SOCIAL_PROOF_MAX_SHARE = 0.9
STREAK_MIN = 3


@dataclass(frozen=True, slots=True)
class Plural:
    """A msgid pair chosen by `ngettext` on the integer param named `count`."""

    singular: str
    plural: str
    count: str


Msg = str | Plural


class Tone(StrEnum):
    WELCOMING = "welcoming"
    ENCOURAGING = "encouraging"
    CELEBRATORY = "celebratory"
    FIRM_KIND = "firm_kind"
    RE_ENGAGING = "re_engaging"


@dataclass(frozen=True, slots=True)
class Template:
    key: str  # stable content id, also the UTM `content` value
    scenario: str
    tone: Tone
    msgid: Msg
    engagement: Engagement | None = None
    band: Performance | None = None
    social_proof_msgid: Msg | None = None
    streak_msgid: Msg | None = None
    button_msgid: str | None = None

    def messages(self) -> tuple[Msg, ...]:
        """Every msgid this template can show."""
        parts = (self.msgid, self.social_proof_msgid, self.streak_msgid, self.button_msgid)
        return tuple(p for p in parts if p is not None)


E, P, T = Engagement, Performance, Tone
SUBMITTED = Plural(*N_plural(
    "{peers_done} of {peers_total} classmates has already submitted it.",
    "{peers_done} of {peers_total} classmates have already submitted it."), "peers_done")
FINISHED = Plural(*N_plural(
    "{peers_done} of {peers_total} classmates has already finished it.",
    "{peers_done} of {peers_total} classmates have already finished it."), "peers_done")
STREAK_LINE = Plural(*N_plural(
    "🔥 That's {streak} day in a row. Keep it going!",
    "🔥 That's {streak} days in a row. Keep it going!"), "streak")
RECORDING = N_("Watch the recording")


def _days(singular: str, plural: str) -> Plural:
    return Plural(singular, plural, "days")


def _t(scenario: str, who: Engagement | None, tone: Tone, msgid: Msg, button: str | None = None,
       *, band: Performance | None = None, social: Msg | None = None,
       streak: bool = False) -> Template:
    key = ".".join([scenario, *([band.value] if band else []), who.value if who else "any"])
    return Template(key, scenario, tone, msgid, who, band, social,
                    STREAK_LINE if streak else None, button)


_TEMPLATES: tuple[Template, ...] = (
    _t("welcome", E.NEW, T.WELCOMING, N_(
        "Welcome to {course}, {name}! 🎉 I'm your mentor bot: I'll remind you about classes and "
        "deadlines and cheer you on. Your first step is waiting for you."), N_("Start learning")),
    _t("welcome", None, T.WELCOMING, N_(
        "Welcome back, {name}! You're now enrolled in {course}. Same as before: I'll keep you "
        "posted on classes and deadlines."), N_("Open the course")),

    _t("class_missed", E.NEW, T.ENCOURAGING, N_(
        "Hi {name}, we missed you at \"{class_title}\" today. No worries, getting started takes "
        "time. The recording is ready whenever you are."), RECORDING),
    _t("class_missed", E.REGULAR, T.ENCOURAGING, N_(
        "Hi {name}, you missed \"{class_title}\" today, and that's not like you! Catch up with "
        "the recording so you're ready for the next class."), RECORDING),
    _t("class_missed", E.SLIPPING, T.FIRM_KIND, N_(
        "{name}, you've missed a few classes lately, including \"{class_title}\". Let's get back "
        "on track: watch the recording today, and tell me if something is getting in the way."),
        RECORDING),
    _t("class_missed", E.LAPSED, T.RE_ENGAGING, _days(*N_plural(
        "Hi {name}, it's been {days} day since we last saw you in {course}. You don't have to "
        "catch up on everything at once: one class is a great restart.",
        "Hi {name}, it's been {days} days since we last saw you in {course}. You don't have to "
        "catch up on everything at once: one class is a great restart.")),
        N_("Show my next class")),

    _t("assignment_due_soon", E.NEW, T.ENCOURAGING, N_(
        "Hi {name}! Your {course} assignment is due {due}. Give it a go: it doesn't have to be "
        "perfect, and you can ask me if you get stuck."), N_("Open the assignment"),
        social=SUBMITTED),
    _t("assignment_due_soon", E.REGULAR, T.ENCOURAGING, N_(
        "Heads up, {name}: your {course} assignment is due {due}. One short session today and "
        "it's done!"), N_("Open the assignment"), social=SUBMITTED, streak=True),
    _t("assignment_due_soon", E.SLIPPING, T.FIRM_KIND, N_(
        "{name}, your {course} assignment is due {due}. Set aside 20 minutes today so it doesn't "
        "pile up. You can do this."), N_("Open the assignment")),
    _t("assignment_due_soon", E.LAPSED, T.RE_ENGAGING, N_(
        "Hi {name}, there's an assignment in {course} due {due}. It's a good way to ease back "
        "in: start with the first question."), N_("Open the assignment")),

    _t("assignment_overdue", E.NEW, T.FIRM_KIND, N_(
        "Hi {name}, your {course} assignment was due {due}. If you're not sure how to submit it, "
        "reply here and I'll help."), N_("Submit now")),
    _t("assignment_overdue", E.REGULAR, T.FIRM_KIND, N_(
        "{name}, your {course} assignment was due {due} and it's still open. Submit it today so "
        "it counts. You're usually right on time!"), N_("Submit now")),
    _t("assignment_overdue", E.SLIPPING, T.FIRM_KIND, N_(
        "{name}, your {course} assignment is overdue (it was due {due}). Please submit it today, "
        "even if it isn't finished: your teacher can help with the rest."), N_("Submit now")),
    _t("assignment_overdue", E.LAPSED, T.RE_ENGAGING, N_(
        "Hi {name}, your {course} assignment from {due} is still waiting. It's not too late: "
        "send what you have and we'll take it from there."), N_("Submit now")),

    _t("test_abandoned", E.NEW, T.ENCOURAGING, N_(
        "Hi {name}, you started a test in {course} but didn't finish it. Your answers are saved, "
        "so you can pick up where you left off."), N_("Continue the test"), social=FINISHED),
    _t("test_abandoned", E.REGULAR, T.ENCOURAGING, N_(
        "{name}, your {course} test is waiting to be finished! Your answers are saved: a few "
        "more minutes and you'll see your score."), N_("Continue the test"), social=FINISHED),
    _t("test_abandoned", E.SLIPPING, T.FIRM_KIND, N_(
        "{name}, you still have an unfinished test in {course}. Finish it today: your answers "
        "are saved, and your score will show what to focus on next."), N_("Continue the test")),
    _t("test_abandoned", E.LAPSED, T.RE_ENGAGING, N_(
        "Hi {name}, your {course} test is still waiting where you left it. No pressure: even a "
        "few questions today is progress."), N_("Continue the test")),

    _t("test_completed", None, T.CELEBRATORY, N_(
        "Great job, {name}! Your {course} test score: {score}%. 🎉 Ready for the next "
        "challenge?"), N_("See my results"), band=P.HIGH, streak=True),
    _t("test_completed", None, T.ENCOURAGING, N_(
        "Well done finishing your {course} test, {name}! You scored {score}%. Look over the "
        "questions you missed: that's the fastest way to improve."), N_("See my results"),
        band=P.MIDDLE),
    _t("test_completed", None, T.ENCOURAGING, N_(
        "Thanks for finishing your {course} test, {name}. You scored {score}%. That's a starting "
        "point, not a verdict: let's go over the tricky topics together."), N_("See my results"),
        band=P.LOW),
    _t("test_completed", E.LAPSED, T.CELEBRATORY, N_(
        "Welcome back, {name}, and what a comeback: your {course} test score is {score}%! 🎉 "
        "Keep it going with your next class."), N_("See my results"), band=P.HIGH),
    _t("test_completed", E.LAPSED, T.ENCOURAGING, N_(
        "Good to see you back, {name}! Your {course} test score: {score}%. A little practice "
        "each week will push that higher."), N_("See my results"), band=P.MIDDLE),
    _t("test_completed", E.LAPSED, T.ENCOURAGING, N_(
        "Good to see you back, {name}. Your {course} test score is {score}%, and coming back "
        "was the hardest part. Let's review the tricky topics together."),
        N_("See my results"), band=P.LOW),

    _t("next_test", E.NEW, T.ENCOURAGING, N_(
        "Nice work on your first test, {name}! The next test in {course} is ready when you are."),
        N_("Start the next test"), social=FINISHED),
    _t("next_test", E.REGULAR, T.ENCOURAGING, N_(
        "{name}, you've done one test in {course}. The next one is ready: keep your progress "
        "going!"), N_("Start the next test"), social=FINISHED),
    _t("next_test", E.SLIPPING, T.FIRM_KIND, N_(
        "{name}, you finished one test in {course}. The next one will show how far you've come. "
        "How about trying it this week?"), N_("Start the next test")),
    _t("next_test", E.LAPSED, T.RE_ENGAGING, N_(
        "Hi {name}, remember the test you finished in {course}? The next one is waiting, and "
        "it's a great way to come back."), N_("Start the next test")),

    _t("no_recent_test", None, T.ENCOURAGING, _days(*N_plural(
        "Hi {name}, it's been {days} day since your last test in {course}. A quick test shows "
        "what you've mastered and what to review.",
        "Hi {name}, it's been {days} days since your last test in {course}. A quick test shows "
        "what you've mastered and what to review.")), N_("Take a test")),
    _t("no_recent_test", E.LAPSED, T.RE_ENGAGING, _days(*N_plural(
        "Hi {name}, your last {course} test was {days} day ago. Why not try a short one to see "
        "where you stand? No pressure.",
        "Hi {name}, your last {course} test was {days} days ago. Why not try a short one to see "
        "where you stand? No pressure.")), N_("Take a test")),

    _t("milestone_approaching", E.NEW, T.ENCOURAGING, N_(
        "Hi {name}, a milestone in {course} is coming up on {due}. The way to get there: a "
        "little every day. I'll help you plan."), N_("See my plan")),
    _t("milestone_approaching", E.REGULAR, T.ENCOURAGING, N_(
        "{name}, your next {course} milestone is due {due}. You're on track: keep your usual "
        "pace and you'll make it."), N_("See my plan"), streak=True),
    _t("milestone_approaching", E.SLIPPING, T.FIRM_KIND, N_(
        "{name}, your {course} milestone is due {due}. Let's plan the remaining steps today so "
        "it doesn't sneak up on you."), N_("See my plan")),
    _t("milestone_approaching", E.LAPSED, T.RE_ENGAGING, N_(
        "Hi {name}, your {course} milestone is due {due}. It's not too late to make it: let's "
        "start with one small step today."), N_("See my plan")),

    _t("inactive", E.NEW, T.ENCOURAGING, _days(*N_plural(
        "Hi {name}, you joined {course} {days} day ago. Let's take the first step together: "
        "your first lesson takes only a few minutes.",
        "Hi {name}, you joined {course} {days} days ago. Let's take the first step together: "
        "your first lesson takes only a few minutes.")), N_("Continue learning")),
    _t("inactive", None, T.RE_ENGAGING, _days(*N_plural(
        "Hi {name}, we haven't seen you in {course} for {days} day. Is everything OK? Your next "
        "lesson is just a tap away.",
        "Hi {name}, we haven't seen you in {course} for {days} days. Is everything OK? Your next "
        "lesson is just a tap away.")), N_("Continue learning")),
    _t("inactive", E.SLIPPING, T.FIRM_KIND, _days(*N_plural(
        "{name}, it's been {days} day since you last studied {course}. Even 15 minutes today "
        "will help you keep up.",
        "{name}, it's been {days} days since you last studied {course}. Even 15 minutes today "
        "will help you keep up.")), N_("Continue learning")),
    _t("inactive", E.LAPSED, T.RE_ENGAGING, _days(*N_plural(
        "Hi {name}, it's been {days} day and we miss you in {course}! Whenever you're ready, "
        "I'll help you pick up where you left off. Just reply here.",
        "Hi {name}, it's been {days} days and we miss you in {course}! Whenever you're ready, "
        "I'll help you pick up where you left off. Just reply here.")), N_("Continue learning")),

    _t("streak", None, T.CELEBRATORY, Plural(*N_plural(
        "🔥 {streak} day in a row, {name}! Your consistency in {course} is paying off.",
        "🔥 {streak} days in a row, {name}! Your consistency in {course} is paying off."),
        "streak")),
    _t("streak", E.NEW, T.CELEBRATORY, Plural(*N_plural(
        "🔥 {streak} day in a row already, {name}! What a start in {course}.",
        "🔥 {streak} days in a row already, {name}! What a start in {course}."), "streak")),
    _t("streak", E.SLIPPING, T.CELEBRATORY, Plural(*N_plural(
        "🔥 {streak} day in a row, {name}! You're back in the rhythm in {course}. Keep it up!",
        "🔥 {streak} days in a row, {name}! You're back in the rhythm in {course}. Keep it up!"),
        "streak")),

    _t("check_in", E.NEW, T.WELCOMING, N_(
        "Hi {name}! How are your first weeks of {course} going? Reply here if anything is "
        "unclear. I'm here to help."), N_("See this week's plan")),
    _t("check_in", E.REGULAR, T.ENCOURAGING, N_(
        "Hi {name}, how did this week go in {course}? Reply with anything you'd like help with, "
        "or just tell me how it went!"), N_("See this week's plan"), streak=True),
    _t("check_in", E.SLIPPING, T.FIRM_KIND, N_(
        "Hi {name}, this week was a bit quieter in {course}. What's getting in the way? Reply "
        "here and we'll find a plan that works for you."), N_("See this week's plan")),
    _t("check_in", E.LAPSED, T.RE_ENGAGING, N_(
        "Hi {name}, it's been a while since we saw you in {course}. Just checking in: reply here "
        "if you'd like help getting back into it."), N_("See this week's plan")),
)

TEMPLATES: Mapping[str, Template] = {t.key: t for t in _TEMPLATES}
SCENARIOS: frozenset[str] = frozenset(t.scenario for t in _TEMPLATES)
BANDED_SCENARIOS: frozenset[str] = frozenset(t.scenario for t in _TEMPLATES if t.band)
_BY_SLOT = {(t.scenario, t.engagement, t.band): t for t in _TEMPLATES}


def pick_template(scenario: str, engagement: Engagement,
                  band: Performance | None = None) -> Template:
    """The most specific template for a scenario, persona and (for test results) score band."""
    if scenario not in SCENARIOS:
        raise KeyError(f"unknown scenario {scenario!r}")
    if scenario in BANDED_SCENARIOS and band is None:
        raise ValueError(f"scenario {scenario!r} needs a score band")
    for slot in ((engagement, band), (None, band), (engagement, None), (None, None)):
        template = _BY_SLOT.get((scenario, *slot))
        if template:
            return template
    raise LookupError(f"no template for {scenario!r}, {engagement}, {band}")


def social_proof_applies(params: Mapping[str, object]) -> bool:
    """Show "n of m classmates" only when it encourages rather than singles someone out."""
    done, total = params.get("peers_done"), params.get("peers_total")
    if not isinstance(done, int) or not isinstance(total, int) or total < SOCIAL_PROOF_MIN_PEERS:
        return False
    return SOCIAL_PROOF_MIN_SHARE <= done / total <= SOCIAL_PROOF_MAX_SHARE


def streak_applies(params: Mapping[str, object]) -> bool:
    streak = params.get("streak")
    return isinstance(streak, int) and streak >= STREAK_MIN


def render(template: Template, params: Mapping[str, object], gettext: Gettext,
           ngettext: Ngettext | None = None) -> str:
    """Translate, then fill the body plus the optional lines the params support."""
    parts = [template.msgid]
    if template.streak_msgid and streak_applies(params):
        parts.append(template.streak_msgid)
    if template.social_proof_msgid and social_proof_applies(params):
        parts.append(template.social_proof_msgid)
    texts = [_fill(_translate(p, params, gettext, ngettext), params, template.key) for p in parts]
    return "\n\n".join(texts)


def render_button(template: Template, gettext: Gettext) -> str | None:
    """The translated button label; the channel adapter attaches `{link}` to it."""
    return gettext(template.button_msgid) if template.button_msgid else None


def _translate(msg: Msg, params: Mapping[str, object], gettext: Gettext,
               ngettext: Ngettext | None) -> str:
    if isinstance(msg, str):
        return gettext(msg)
    if ngettext is None:
        raise TypeError(f"{msg.singular!r} is a plural message: pass ngettext")
    count = params.get(msg.count)
    if not isinstance(count, int):
        raise KeyError(f"plural message needs an integer {msg.count!r} param")
    return ngettext(msg.singular, msg.plural, count)


def _fill(text: str, params: Mapping[str, object], key: str) -> str:
    """str.format restricted to plain named fields, so a translation cannot reach attributes."""
    out: list[str] = []
    for literal, field, spec in _fields(text, key):
        out.append(literal)
        if field is None:
            continue
        if field not in params:
            raise KeyError(f"template {key} needs the param {field!r}")
        out.append(format(params[field], spec))
    return "".join(out)


@lru_cache(maxsize=4096)
def _fields(text: str, key: str) -> tuple[tuple[str, str | None, str], ...]:
    """(literal, field, format spec) parts of a translated text, parsed once per text."""
    parts = []
    for literal, field, spec, conversion in string.Formatter().parse(text):
        if field is not None and (not field.isidentifier() or conversion):
            raise ValueError(f"template {key}: unsupported placeholder {{{field}}}")
        parts.append((literal, field, spec or ""))
    return tuple(parts)
