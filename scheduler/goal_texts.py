"""The words of goals, plans, progress and the weekly review, in the person's language.

Pure functions of a Gettext and plain data, shared by the chat (/goals, /plan, /progress), the
weekly messages and the mentors' cards, so a goal reads the same everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from babel.dates import format_skeleton, get_day_names

from core.i18n import Gettext
from scheduler.goal_progress import Progress


def goal_label(t: Gettext, kind: str, target: int, text: str | None = None) -> str:
    if kind == "attend_all":
        return t._("Attend every class")
    if kind == "submit_n":
        return t.ngettext("Submit {n} assignment", "Submit {n} assignments", target)
    if kind == "practice_test":
        return t._("Finish a practice test")
    if kind == "study_sessions":
        return t.ngettext("Study on {n} day", "Study on {n} days", target)
    return text or "—"


def goal_line(t: Gettext, label: str, progress: Progress, status: str) -> str:
    if status == "met" or (status == "active" and progress.met):
        return t._("✅ {goal}", goal=label)
    if progress.of == 0:  # e.g. no class yet this week: nothing to count
        return t._("⏳ {goal}", goal=label)
    if status in ("missed", "carried"):
        return t._("➖ {goal} ({done}/{of})", goal=label, done=progress.done, of=progress.of)
    return t._("⏳ {goal} ({done}/{of})", goal=label, done=progress.done, of=progress.of)


def activity_label(t: Gettext, activity: str) -> str:
    labels = {
        "assignment": t._("Work on your assignment"),
        "test": t._("Practice test"),
        "recording": t._("Watch a missed class recording"),
    }
    return labels.get(activity, t._("Study session"))


def day_label(day: date, locale: str) -> str:
    return format_skeleton("MMMEd", day, locale=locale)


def weekday_name(weekday: int, locale: str) -> str:
    return str(get_day_names("wide", locale=locale)[weekday])


def item_line(t: Gettext, item: dict[str, Any]) -> str:
    mark = {True: "✅ ", False: "➖ "}.get(item.get("done"), "")  # type: ignore[call-overload]
    return t._(
        "{mark}{day}, {hour}:00: {activity}",
        mark=mark,
        day=day_label(date.fromisoformat(item["day"]), t.locale),
        hour=item["hour"],
        activity=activity_label(t, item["activity"]),
    )


def plan_text(t: Gettext, items: Sequence[dict[str, Any]], accepted: bool) -> str:
    if not items:
        return t._("Your plan for this week is empty.")
    head = t._("Your plan for this week:") if accepted else t._("Proposed plan for this week:")
    ordered = sorted(items, key=lambda item: item["day"])  # stored order is kept for the ids
    return "\n".join([head, *(item_line(t, item) for item in ordered)])


# The review's first line, in the tone that suits the student's engagement persona.
def review_opening(t: Gettext, engagement: str, kept: int, planned: int) -> str:
    if engagement == "lapsed":
        return t._("Welcome back! Every step counts: let's start small this week.")
    if engagement == "slipping":
        return t._("Last week was a harder one, and that's OK. One step at a time.")
    if planned and kept == planned:
        return t._("What a week: you kept every item of your plan! 🎉")
    if engagement == "new":
        return t._("Your first weeks are taking shape. Nice work!")
    return t._("Good work last week: keep the rhythm going!")


def review_text(
    t: Gettext,
    engagement: str,
    goals: Sequence[tuple[str, str]],
    kept: int,
    planned: int,
    badges: Sequence[str],
) -> str:
    """`goals`: (label, status) of last week's goals; `badges`: labels earned just now."""
    lines = [review_opening(t, engagement, kept, planned)]
    if planned:
        lines.append(t._("Plan: {kept} of {planned} done.", kept=kept, planned=planned))
    met = [label for label, status in goals if status == "met"]
    carried = [label for label, status in goals if status == "carried"]
    if met:
        lines.append(t._("Goals met: {goals}", goals="; ".join(met)))
    if carried:
        lines.append(t._("Carried over to this week: {goals}", goals="; ".join(carried)))
    lines += [t._("New badge: {badge} 🏅", badge=badge) for badge in badges]
    return "\n".join(lines)


def badge_label(t: Gettext, badge: str) -> str:
    labels = {
        "first_goal": t._("Goal getter"),
        "perfect_week": t._("Perfect week"),
        "streak_5": t._("Five classes in a row"),
        "points_100": t._("100 points"),
    }
    return labels.get(badge, badge)


def reminder_text(t: Gettext, name: str, item: dict[str, Any]) -> str:
    return t._(
        "{name}, from your plan for today at {hour}:00: {activity}. You've got this!",
        name=name,
        hour=item["hour"],
        activity=activity_label(t, item["activity"]),
    )


def weekly_text(t: Gettext, review: str | None, plan: str) -> str:
    how = t._("Type /plan to accept it or move things, and /goals to set this week's goals.")
    return "\n\n".join(part for part in (review, plan, how) if part)
