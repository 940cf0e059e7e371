"""Mermaid state diagrams drawn from the flows' transition tables (`make diagrams`)."""

from __future__ import annotations

import re
from pathlib import Path

from handlers.flow import Flow

DIAGRAMS = Path(__file__).resolve().parent / "diagrams"
_EDGE = re.compile(r"^\s*([\w:]+)\s*-->\s*([\w:]+)\s*:\s*(\w+)\s*$")


def _node(flow: Flow, state: str) -> str:
    # Mermaid ids cannot contain ':'; a state of another flow is drawn as flow__state.
    return state.replace(":", "__") if ":" in state else state


def to_mermaid(flow: Flow) -> str:
    lines = ["stateDiagram-v2", f"    [*] --> {flow.initial}"]
    for (source, event), target in flow.transitions.items():
        lines.append(f"    {_node(flow, source)} --> {_node(flow, target)} : {event}")
    return "\n".join(lines) + "\n"


def edges_in(text: str) -> set[tuple[str, str, str]]:
    """(source, event, target) for every labelled edge of a committed diagram."""
    found = set()
    for line in text.splitlines():
        match = _EDGE.match(line)
        if match:
            source, target, event = match.groups()
            found.add((source.replace("__", ":"), event, target.replace("__", ":")))
    return found


def write_all(flows: dict[str, Flow]) -> None:
    DIAGRAMS.mkdir(exist_ok=True)
    for name, flow in flows.items():
        (DIAGRAMS / f"{name}.mmd").write_text(to_mermaid(flow), encoding="utf-8")


if __name__ == "__main__":
    from handlers.registry import default_flows

    write_all(dict(default_flows()))
