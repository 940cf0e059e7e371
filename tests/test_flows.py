"""The flows' tables are complete and match their committed diagrams."""

from __future__ import annotations

import pytest

from handlers.diagram import DIAGRAMS, edges_in
from handlers.flow import FlowError, table
from handlers.registry import AUTOMATIC, default_flows, split_target

FLOWS = default_flows()


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_diagram_matches_the_table(name: str) -> None:
    flow = FLOWS[name]
    drawn = edges_in((DIAGRAMS / f"{name}.mmd").read_text(encoding="utf-8"))
    declared = {(source, event, target) for (source, event), target in flow.transitions.items()}
    assert drawn == declared, "run `make diagrams` after changing a transition table"


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_every_target_state_exists_and_can_act(name: str) -> None:
    flow = FLOWS[name]
    for (_source, _event), target in flow.transitions.items():
        target_flow, state = split_target(name, target)
        assert state in FLOWS[target_flow].steps, f"{target} has no step"
    for state in flow.steps:
        if (name, state) not in AUTOMATIC and state != flow.initial:
            assert any(t == state or t.endswith(":" + state) for t in flow.transitions.values())


def test_duplicate_transitions_are_refused() -> None:
    with pytest.raises(FlowError):
        table(("a", "go", "b"), ("a", "go", "c"))


def test_undeclared_transition_is_an_error() -> None:
    with pytest.raises(FlowError):
        FLOWS["onboarding"].target("ask_consent", "teleport")
