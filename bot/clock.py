"""Injected time, now in `core.clock`: imported from here too."""

from core.clock import (
    Clock,
    FakeClock,
    SystemClock,
)

__all__ = [
    "Clock",
    "FakeClock",
    "SystemClock",
]
