"""Prometheus metrics on a registry of our own (no process-global state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._inbound = Counter(
            "mentorbot_inbound_messages",
            "Inbound messages handled",
            ["channel", "duplicate"],
            registry=self.registry,
        )
        self._errors = Counter(
            "mentorbot_turn_errors",
            "Turns that failed and were apologised for",
            registry=self.registry,
        )
        self._outbound = Counter(
            "mentorbot_outbound_messages",
            "Outbound sends by outcome",
            ["channel", "outcome"],
            registry=self.registry,
        )

    def inbound(self, channel: str, duplicate: bool) -> None:
        self._inbound.labels(channel, str(duplicate).lower()).inc()

    def error(self) -> None:
        self._errors.inc()

    def outbound(self, channel: str, outcome: str) -> None:
        self._outbound.labels(channel, outcome).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
