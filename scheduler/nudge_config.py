"""What the planner and the renderer both need: the nudge settings and when a step fires.

A module of its own so that `scheduler.planner` (which plans, then renders) and
`scheduler.render_batch` (which renders) import it, and not each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from scheduler.campaigns import Campaign


@dataclass(frozen=True, slots=True)
class NudgeConfig:
    fallback_zone: str = "America/New_York"
    public_url: str = "http://127.0.0.1:8000"
    link_secret: str = "mentorbot-dev-links"
    link_base: str = "https://learn.example.edu/"


def fire_offset(campaign: Campaign, step: int) -> timedelta:
    """How long after its anchor event a step of an event or absence campaign fires."""
    trigger = campaign.trigger
    wait = trigger.event.delay if trigger.event else trigger.absence.within  # type: ignore[union-attr]
    every = campaign.repeat.every if campaign.repeat else timedelta(0)
    return wait + step * every
