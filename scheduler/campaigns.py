"""Nudge campaigns as data: pydantic models and a loader that reports every problem at once.

An admin edits `campaigns.yaml`; `load_campaigns` either returns every campaign or raises
`CampaignFileError` listing each problem as `campaigns.yaml: campaign 'x': field 'y': problem`.
Durations are a whole number and a unit: "90m", "24h", "3d", "2w". Empty audience lists mean
"everyone". `priority` is 0-100, higher wins when caps allow only one nudge. `repeat.max_times`
counts every send including the first. `topic` (default: the scenario) keys the "one nudge per
topic per local day" rule across campaigns.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from scheduler.catalog import BANDED_SCENARIOS, SCENARIOS
from scheduler.personas import EVENT_TYPES, Engagement, Performance

_DURATION = re.compile(r"(\d+)\s*([mhdw])")
_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1),
          "w": timedelta(weeks=1)}
_HH_MM = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")
_CAMPAIGN_ID = re.compile(r"[a-z][a-z0-9_]{0,63}")


class CampaignFileError(ValueError):
    """A campaigns file with problems; `problems` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def parse_duration(value: object) -> timedelta:
    if isinstance(value, timedelta):
        return value
    match = _DURATION.fullmatch(value.strip()) if isinstance(value, str) else None
    if not match:
        raise ValueError(f"bad duration {value!r}: use a number and m, h, d or w, like '3d'")
    return int(match[1]) * _UNITS[match[2]]


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("duration must be more than zero")
    return value


def _local_time(value: object) -> time:
    # YAML 1.1 reads an unquoted 17:30 as the base-60 integer 1050 (never below 60, "1:00"):
    # turn it back into text; a plain `at: 9` stays an error.
    if isinstance(value, int) and not isinstance(value, bool) and value >= 60:
        value = f"{value // 60}:{value % 60:02d}"
    match = _HH_MM.fullmatch(value) if isinstance(value, str) else None
    if not match:
        raise ValueError(f"bad time {value!r}: use \"HH:MM\" (24-hour, local)")
    return time(int(match[1]), int(match[2]))


def _event_type(value: str) -> str:
    if value not in EVENT_TYPES:
        raise ValueError(f"unknown event type {value!r} (known: {', '.join(sorted(EVENT_TYPES))})")
    return value


def _scenario(value: str) -> str:
    if value not in SCENARIOS:
        raise ValueError(f"unknown scenario {value!r} (known: {', '.join(sorted(SCENARIOS))})")
    return value


def _campaign_id(value: str) -> str:
    if not _CAMPAIGN_ID.fullmatch(value):
        raise ValueError(f"bad id {value!r}: use lowercase letters, digits and _ (max 64)")
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
PositiveDuration = Annotated[timedelta, BeforeValidator(parse_duration), AfterValidator(_positive)]
EventType = Annotated[str, AfterValidator(_event_type)]
LocalTime = Annotated[time, BeforeValidator(_local_time)]
Channel = Literal["telegram", "sms", "webchat"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EventTrigger(_Strict):
    type: EventType
    delay: Duration = timedelta(0)


class AbsenceTrigger(_Strict):
    """Fires `within` after an `after` event unless a `missing` event followed it.

    With `match_ref` the `missing` event must carry the same `ref` (the same test, assignment).
    """

    after: EventType
    missing: EventType
    within: PositiveDuration
    match_ref: bool = True


class ScheduleTrigger(_Strict):
    every: Literal["day", "week"]
    weekday: Weekday | None = None
    at: LocalTime

    @model_validator(mode="after")
    def _weekday_for_weekly(self) -> ScheduleTrigger:
        if (self.every == "week") != (self.weekday is not None):
            raise ValueError("give weekday for every: week, and only then")
        return self


class Trigger(_Strict):
    event: EventTrigger | None = None
    absence: AbsenceTrigger | None = None
    schedule: ScheduleTrigger | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Trigger:
        if sum(x is not None for x in (self.event, self.absence, self.schedule)) != 1:
            raise ValueError("give exactly one of event, absence, schedule")
        return self

    @property
    def kind(self) -> Literal["event", "absence", "schedule"]:
        return "event" if self.event else "absence" if self.absence else "schedule"


class Audience(_Strict):
    programs: tuple[str, ...] = ()
    grades: tuple[Annotated[int, Field(ge=0, le=13)], ...] = ()
    cohorts: tuple[str, ...] = ()
    engagement: tuple[Engagement, ...] = ()
    performance: tuple[Performance, ...] = ()
    consent: str = Field(default="nudges", pattern=r"^[a-z_]+$")


class Repeat(_Strict):
    every: PositiveDuration
    max_times: int = Field(ge=1, le=10)
    stop_on: tuple[EventType, ...] = ()


class Cascade(_Strict):
    to: Channel
    after: PositiveDuration


class Attribution(_Strict):
    target: EventType
    window: PositiveDuration


class Campaign(_Strict):
    id: Annotated[str, AfterValidator(_campaign_id)]
    description: str = ""
    scenario: Annotated[str, AfterValidator(_scenario)]
    trigger: Trigger
    audience: Audience = Audience()
    channels: tuple[Channel, ...] = Field(min_length=1)
    repeat: Repeat | None = None
    priority: int = Field(default=50, ge=0, le=100)
    cascade: Cascade | None = None
    expires_after: PositiveDuration = timedelta(days=2)
    holdout: float = Field(default=0.10, ge=0.0, le=0.5)
    attribution: Attribution | None = None
    cap_exempt: bool = False
    enabled: bool = True
    # One nudge per person, topic and local day across campaigns; defaults to the scenario.
    topic: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]{0,31}$")

    @property
    def topic_key(self) -> str:
        return self.topic or self.scenario

    @field_validator("trigger")
    @classmethod
    def _banded_needs_score(cls, trigger: Trigger, info: ValidationInfo) -> Trigger:
        is_result = trigger.event is not None and trigger.event.type == "test_completed"
        if info.data.get("scenario") in BANDED_SCENARIOS and not is_result:
            raise ValueError("this scenario picks its words by score: use event test_completed")
        return trigger

    @field_validator("channels")
    @classmethod
    def _distinct_channels(cls, channels: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(channels)) != len(channels):
            raise ValueError("a channel is listed twice")
        return channels

    @field_validator("repeat")
    @classmethod
    def _repeat_not_scheduled(cls, repeat: Repeat | None, info: ValidationInfo) -> Repeat | None:
        trigger = info.data.get("trigger")
        if repeat and trigger and trigger.schedule:
            raise ValueError("a schedule trigger repeats by itself: remove repeat")
        return repeat

    @field_validator("cascade")
    @classmethod
    def _cascade_elsewhere(cls, cascade: Cascade | None, info: ValidationInfo) -> Cascade | None:
        channels = info.data.get("channels")
        if cascade and channels and cascade.to == channels[0]:
            raise ValueError(f"cascade goes to {cascade.to!r}, the first channel already")
        return cascade


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects a key given twice in one mapping instead of keeping the last."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} given twice", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_campaigns(path: str | Path) -> list[Campaign]:
    """Read and validate a campaigns file; raise CampaignFileError listing every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CampaignFileError([f"{path.name}: cannot read the file: {exc.strerror}"]) from exc
    return parse_campaigns(text, source=path.name)


def parse_campaigns(text: str, source: str = "campaigns.yaml") -> list[Campaign]:
    """Validate campaigns from YAML text (no I/O); `source` prefixes every problem."""
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader: no arbitrary objects
    except yaml.YAMLError as exc:
        raise CampaignFileError([f"{source}: {_yaml_problem(exc)}"]) from exc
    entries, problems = _campaign_entries(data, source)
    campaigns: list[Campaign] = []
    for index, raw in enumerate(entries, start=1):
        try:
            campaigns.append(Campaign.model_validate(raw))
        except ValidationError as exc:
            problems += [_problem(source, _who(raw, index), err) for err in exc.errors()]
    problems += _duplicate_ids(entries, source)
    if problems:
        raise CampaignFileError(problems)
    return campaigns


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    return f"line {mark.line + 1}: {problem}" if mark else f"not valid YAML: {problem}"


def _campaign_entries(data: object, source: str) -> tuple[list[object], list[str]]:
    if not isinstance(data, Mapping) or not isinstance(data.get("campaigns"), list):
        return [], [f"{source}: expected a top-level 'campaigns:' list"]
    unknown = [f"{source}: field '{key}': unknown key" for key in data if key != "campaigns"]
    return data["campaigns"], unknown


def _who(raw: object, index: int) -> str:
    ident = raw.get("id") if isinstance(raw, Mapping) else None
    return f"'{ident}'" if isinstance(ident, str) else f"#{index}"


def _problem(source: str, who: str, err: Mapping[str, Any]) -> str:
    field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".")
    if err["type"] == "extra_forbidden":
        message = "unknown key"
    elif err["type"] == "missing":
        message = "required"
    else:
        message = str(err["msg"]).removeprefix("Value error, ")
    where = f"field '{field}': " if field else ""
    return f"{source}: campaign {who}: {where}{message}"


def _duplicate_ids(entries: list[object], source: str) -> list[str]:
    first: dict[str, int] = {}
    problems = []
    for index, raw in enumerate(entries, start=1):
        ident = raw.get("id") if isinstance(raw, Mapping) else None
        if not isinstance(ident, str):
            continue
        if ident in first:
            problems.append(f"{source}: campaign '{ident}': field 'id': duplicate id "
                            f"(campaign #{first[ident]} uses it too)")
        first.setdefault(ident, index)
    return problems
