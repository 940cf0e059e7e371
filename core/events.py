"""The learning-event vocabulary: what the event API accepts and what counts as activity.

"Activity" means something the student did (`ACTIVITY_EVENTS`); scheduled classes, assignments
and milestones are things done *to* them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

EVENT_TYPES = frozenset({
    "enrolled", "login", "class_scheduled", "class_attended", "class_missed",
    "assignment_assigned", "assignment_submitted", "test_started", "test_completed",
    "milestone_due", "milestone_completed",
})
ACTIVITY_EVENTS = frozenset({
    "login", "class_attended", "assignment_submitted", "test_started", "test_completed",
    "milestone_completed",
})
CLASS_OUTCOMES = frozenset({"class_attended", "class_missed"})


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened to or was done by a student; `at` is aware (naive means UTC)."""

    type: str
    at: datetime
    score: float | None = None
    ref: str | None = None
