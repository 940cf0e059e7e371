"""All conversation flows by name; the engine looks states up here."""

from __future__ import annotations

from collections.abc import Mapping

from handlers import goals, main, onboarding, parents, plan, privacy, settings
from handlers.flow import Flow

# States that act on the turn that enters them, instead of waiting for the next message.
AUTOMATIC = frozenset(
    {("onboarding", "start"), ("onboarding", "offer"), ("parents", "next_child")}
)


def default_flows() -> Mapping[str, Flow]:
    flows = (onboarding.FLOW, settings.FLOW, main.FLOW, privacy.FLOW, parents.FLOW, goals.FLOW,
             plan.FLOW)  # fmt: skip
    return {flow.name: flow for flow in flows}


def split_target(current_flow: str, target: str) -> tuple[str, str]:
    """'flow:state' leaves the flow; a bare state stays in it."""
    if ":" in target:
        flow, state = target.split(":", 1)
        return flow, state
    return current_flow, target
