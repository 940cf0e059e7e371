"""Goals, weekly plans and gamification per program, as data (`scheduler/goals.yaml`).

`load_goal_config` returns every program's rules or raises `GoalFileError` listing each
problem, like the campaigns file: a broken file stops the start instead of a silent default.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from scheduler.personas import Engagement

GOAL_KINDS = ("attend_all", "submit_n", "practice_test", "study_sessions")
OWN = "own"  # a goal in the student's own words: always offered, checked in by the student
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_FILE = Path(__file__).resolve().parent / "goals.yaml"


class GoalFileError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True, slots=True)
class GoalOffer:
    kind: str
    target: int = 1


@dataclass(frozen=True, slots=True)
class ProgramRules:
    gamification: bool = True
    social_proof: bool = True
    plan_weekday: int = 0  # 0 = Monday
    plan_hour: int = 18
    goals: dict[str, tuple[GoalOffer, ...]] = field(default_factory=dict)

    def offers(self, engagement: str) -> tuple[GoalOffer, ...]:
        return self.goals.get(engagement) or self.goals.get(Engagement.REGULAR.value, ())


@dataclass(frozen=True, slots=True)
class GoalConfig:
    default: ProgramRules = field(default_factory=ProgramRules)
    programs: dict[str, ProgramRules] = field(default_factory=dict)

    def for_program(self, program: str | None) -> ProgramRules:
        return self.programs.get(program or "", self.default)


def load_goal_config(path: str | Path = DEFAULT_FILE) -> GoalConfig:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise GoalFileError([f"{path.name}: {exc}"]) from exc
    programs = data.get("programs") if isinstance(data, dict) else None
    if not isinstance(programs, dict) or not isinstance(programs.get("default"), dict):
        raise GoalFileError([f"{path.name}: needs `programs:` with a `default:` entry"])
    problems: list[str] = []
    default = _rules(ProgramRules(), programs["default"], f"{path.name}: default", problems)
    found = {
        name: _rules(default, raw or {}, f"{path.name}: {name}", problems)
        for name, raw in programs.items()
        if name != "default"
    }
    if problems:
        raise GoalFileError(problems)
    return GoalConfig(default, found)


def _rules(
    base: ProgramRules, raw: dict[str, Any], where: str, problems: list[str]
) -> ProgramRules:
    changes: dict[str, Any] = {}
    for name in ("gamification", "social_proof"):
        if name in raw:
            changes[name] = _flag(raw[name], f"{where}: {name}", problems)
    if "plan_day" in raw:
        day = str(raw["plan_day"]).lower()
        if day not in WEEKDAYS:
            problems.append(f"{where}: plan_day: use one of {', '.join(WEEKDAYS)}")
        changes["plan_weekday"] = WEEKDAYS.index(day) if day in WEEKDAYS else 0
    if "plan_hour" in raw:
        hour = raw["plan_hour"]
        if not isinstance(hour, int) or not 0 <= hour <= 23:
            problems.append(f"{where}: plan_hour: a whole hour from 0 to 23")
        changes["plan_hour"] = hour if isinstance(hour, int) else 18
    if "goals" in raw:
        changes["goals"] = _goals(raw["goals"], f"{where}: goals", problems)
    unknown = set(raw) - {"gamification", "social_proof", "plan_day", "plan_hour", "goals"}
    problems += [f"{where}: unknown field {name!r}" for name in sorted(unknown)]
    return replace(base, **changes)


def _flag(value: object, where: str, problems: list[str]) -> bool:
    if not isinstance(value, bool):
        problems.append(f"{where}: true or false")
    return bool(value)


def _goals(raw: object, where: str, problems: list[str]) -> dict[str, tuple[GoalOffer, ...]]:
    if not isinstance(raw, dict):
        problems.append(f"{where}: a list of goals per engagement persona")
        return {}
    found: dict[str, tuple[GoalOffer, ...]] = {}
    for persona, items in raw.items():
        if persona not in {e.value for e in Engagement}:
            problems.append(f"{where}: unknown persona {persona!r}")
        offers = [_offer(str(item), f"{where}: {persona}", problems) for item in items or ()]
        found[str(persona)] = tuple(o for o in offers if o is not None)
    return found


def _offer(item: str, where: str, problems: list[str]) -> GoalOffer | None:
    kind, _, number = item.partition(":")
    if kind not in GOAL_KINDS or (number and not number.isdigit()) or number == "0":
        problems.append(
            f"{where}: bad goal {item!r}: use kind or kind:N, N > 0 "
            f"(kinds: {', '.join(GOAL_KINDS)})"
        )
        return None
    return GoalOffer(kind, int(number) if number else 1)
