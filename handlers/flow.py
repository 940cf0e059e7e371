"""Declared conversation flows: states, a transition table, and a step per state.

A step classifies the inbound message into an *event*; the table alone decides the next state.
Replies and effects are plain data that the engine applies inside one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from core.consent import Ward
from core.i18n import Gettext
from core.messages import Inbound, Reply

if TYPE_CHECKING:
    from handlers.retrieval import KnowledgeBase


@dataclass(frozen=True, slots=True)
class PersonView:
    """What a flow may know about the person it talks to."""

    id: int
    role: str
    display_name: str | None
    locale: str
    phone_e164: str | None
    eligible_for_coaching: bool
    under_13: bool
    consent: Mapping[str, str] = field(default_factory=dict)  # purpose -> latest decision
    program: str | None = None
    wards: tuple[Ward, ...] = ()  # a parent's linked children under 13

    def has_consent(self, purpose: str) -> bool:
        return self.consent.get(purpose) == "granted"


@dataclass(frozen=True, slots=True)
class Turn:
    """Everything one step sees: the person, the message, the time, the language."""

    person: PersonView
    inbound: Inbound
    now: datetime
    t: Gettext
    data: Mapping[str, Any]
    choice_id: str | None = None  # the inbound resolved to one of the offered choices
    knowledge: KnowledgeBase | None = None  # approved answers to students' questions

    @property
    def text(self) -> str:
        return self.inbound.text.strip()


@dataclass(frozen=True, slots=True)
class Effect:
    """A change the engine applies for the flow: `kind` names it, `args` carry the values."""

    kind: str
    args: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Step:
    event: str
    replies: tuple[Reply, ...] = ()
    effects: tuple[Effect, ...] = ()
    data: Mapping[str, Any] = field(default_factory=dict)


StepFn = Callable[[Turn], Step]
PromptFn = Callable[[Turn], tuple[Reply, ...]]


@dataclass(frozen=True, slots=True)
class Flow:
    name: str
    initial: str
    transitions: Mapping[tuple[str, str], str]
    steps: Mapping[str, StepFn]
    prompts: Mapping[str, PromptFn] = field(default_factory=dict)
    # Asking again after a digression, for states whose question a step (not a prompt) asked.
    reasks: Mapping[str, PromptFn] = field(default_factory=dict)

    def target(self, state: str, event: str) -> str:
        try:
            return self.transitions[(state, event)]
        except KeyError:
            raise FlowError(f"{self.name}: no transition from {state!r} on {event!r}") from None

    def reask(self, state: str) -> PromptFn | None:
        return self.reasks.get(state) or self.prompts.get(state)

    def states(self) -> set[str]:
        found = {self.initial}
        for (source, _event), target in self.transitions.items():
            found.update((source, target))
        return found


class FlowError(RuntimeError):
    """A flow asked for a transition its table does not declare."""


def table(*rows: tuple[str, str, str]) -> dict[tuple[str, str], str]:
    """Build a transition table from (source, event, target) rows, refusing duplicates."""
    result: dict[tuple[str, str], str] = {}
    for source, event, target in rows:
        if (source, event) in result:
            raise FlowError(f"duplicate transition {source!r} --{event}-->")
        result[(source, event)] = target
    return result
