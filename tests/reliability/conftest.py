"""The reliability suite's size knob and its figures.

Quick sizes by default (they run in `make test` and keep this folder around a minute on two
cores); `MENTORBOT_RELIABILITY=full` (what `make reliability` sets) runs the full sizes. Every
test prints one line of figures, `reliability <name>: lost=0 duplicated=0 ...` (see them with
`-s`), and the lines are repeated in the terminal summary at the end of the run.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

FULL = os.environ.get("MENTORBOT_RELIABILITY", "").strip().lower() == "full"
SIZE_NAME = "full" if FULL else "quick"
_FIGURES: list[str] = []


def sized(quick: int, full: int) -> int:
    """The quick size, or the full one under MENTORBOT_RELIABILITY=full."""
    return full if FULL else quick


def figures_line(name: str, **figures: object) -> str:
    return f"reliability {name}: " + " ".join(f"{key}={value}" for key, value in figures.items())


Report = Callable[..., str]


@pytest.fixture
def report() -> Report:
    """`report("faults", lost=0, stuck=0)` prints the test's figures (and keeps them for the
    terminal summary), so they are there whether the assertions that follow pass or not."""

    def emit(name: str, **figures: object) -> str:
        line = figures_line(name, size=SIZE_NAME, **figures)
        print(line, flush=True)
        _FIGURES.append(line)
        return line

    return emit


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _FIGURES:
        terminalreporter.section("reliability figures")
        for line in _FIGURES:
            terminalreporter.write_line(line)
