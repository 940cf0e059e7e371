"""Approved broadcast texts: admins pick one (translated in every catalog), never free text,
so every student reads it in their own language. `{name}` is the student's first name."""

from __future__ import annotations

from core.i18n import N_, Gettext

TEMPLATES: dict[str, str] = {
    "new_week": N_("Hi {name}! A new week of classes starts on Monday: have a look at your "
                   "schedule on the course page."),
    "schedule_change": N_("Hi {name}, the class schedule changed this week. Please check the "
                          "course calendar for the new times."),
    "office_hours": N_("Hi {name}! Mentors hold extra office hours this week. Reply here if "
                       "you would like to talk to one."),
    "check_in": N_("Hi {name}, how is your course going? Reply with a number from 1 (hard) to "
                   "5 (great): it helps us help you."),
    "holiday_break": N_("Hi {name}, there are no live classes during the holiday break. The "
                        "recordings stay on the course page."),
}  # fmt: skip


def render(t: Gettext, template: str, name: str | None) -> str:
    first = (name or "").split(" ")[0] or t._("there")
    return t._(TEMPLATES[template], name=first)

LABELS: dict[str, str] = {
    "new_week": N_("New week"),
    "schedule_change": N_("Schedule change"),
    "office_hours": N_("Office hours"),
    "check_in": N_("Check-in"),
    "holiday_break": N_("Holiday break"),
}
SEGMENT_LABELS: dict[str, str] = {
    "program": N_("Program"),
    "cohort": N_("Cohort"),
    "grade": N_("Grade"),
    "language": N_("Language"),
    "persona": N_("Persona"),
}
