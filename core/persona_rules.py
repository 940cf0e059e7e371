"""The persona thresholds as named constants and as plain data (`PERSONA_RULES`).

`scheduler.personas` classifies one student in Python and `storage.persona_sql` every student
at once in SQL; both read the thresholds from here (the module docstring of
`scheduler.personas` states the rules).
"""

from __future__ import annotations

from datetime import timedelta

from core.events import ACTIVITY_EVENTS, CLASS_OUTCOMES

NEW_WINDOW = timedelta(days=14)
NEW_MAX_PRIOR_ACTIVITY = 3
LAPSED_AFTER = timedelta(days=14)
RECENT_WINDOW = timedelta(days=14)
BASELINE_WINDOW = timedelta(days=42)
SLIPPING_DROP = 0.3
SLIPPING_MIN_RECENT_CLASSES = 3
SLIPPING_MIN_BASELINE_CLASSES = 3
MISSED_IN_A_ROW = 2
PERFORMANCE_WINDOW = timedelta(days=60)
HIGH_SCORE = 80.0
LOW_SCORE = 50.0
HIGH_SUBMISSION_RATE = 0.8
LOW_SUBMISSION_RATE = 0.5
MIN_ASSIGNED_FOR_RATE = 2
ACTIVE_HOURS_MIN_POINTS = 5
ACTIVE_HOURS_MAX_POINTS = 50
ACTIVE_HOURS_MIN_SPREAD = 1
ACTIVE_HOURS_MAX_SPREAD = 3

PERSONA_RULES: dict[str, object] = {
    "activity_events": sorted(ACTIVITY_EVENTS),
    "class_outcomes": sorted(CLASS_OUTCOMES),
    "new": {"window_days": NEW_WINDOW.days, "max_prior_activity": NEW_MAX_PRIOR_ACTIVITY},
    "lapsed": {"after_days": LAPSED_AFTER.days},
    "slipping": {
        "recent_days": RECENT_WINDOW.days, "baseline_days": BASELINE_WINDOW.days,
        "drop": SLIPPING_DROP, "min_recent_classes": SLIPPING_MIN_RECENT_CLASSES,
        "min_baseline_classes": SLIPPING_MIN_BASELINE_CLASSES, "missed_in_a_row": MISSED_IN_A_ROW,
    },
    "performance": {
        "window_days": PERFORMANCE_WINDOW.days, "high_score": HIGH_SCORE, "low_score": LOW_SCORE,
        "high_submission_rate": HIGH_SUBMISSION_RATE, "low_submission_rate": LOW_SUBMISSION_RATE,
        "min_assigned_for_rate": MIN_ASSIGNED_FOR_RATE,
    },
    "active_hours": {
        "min_points": ACTIVE_HOURS_MIN_POINTS, "max_points": ACTIVE_HOURS_MAX_POINTS,
        "min_spread": ACTIVE_HOURS_MIN_SPREAD, "max_spread": ACTIVE_HOURS_MAX_SPREAD,
    },
}

