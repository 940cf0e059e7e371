"""Lift of a campaign against its holdout: the difference of two conversion rates, with a 95%
confidence interval by the normal approximation (Wald): d = p1 − p0, se = √(p1(1−p1)/n1 +
p0(1−p0)/n0), d ± 1.96·se. Stated as such wherever it is shown; with fewer than 30 people in
either group, or no variation at all, the interval is not given (it would mislead).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Z95 = 1.959963984540054
MIN_GROUP = 30
METHOD = "difference of two proportions, 95% Wald interval (normal approximation)"


@dataclass(frozen=True, slots=True)
class Lift:
    treated_rate: float | None
    control_rate: float | None
    difference: float | None
    low: float | None = None
    high: float | None = None

    @property
    def significant(self) -> bool:
        return self.low is not None and self.high is not None and (self.low > 0 or self.high < 0)


def _rate(hits: int, n: int) -> float | None:
    return hits / n if n else None


def lift(converted: int, treated: int, control_converted: int, control: int) -> Lift:
    if not 0 <= converted <= treated or not 0 <= control_converted <= control:
        raise ValueError("conversions must be between 0 and the group size")
    p1, p0 = _rate(converted, treated), _rate(control_converted, control)
    if p1 is None or p0 is None:
        return Lift(p1, p0, None)
    difference = p1 - p0
    variance = p1 * (1 - p1) / treated + p0 * (1 - p0) / control
    if min(treated, control) < MIN_GROUP or variance == 0:
        return Lift(p1, p0, difference)
    margin = Z95 * math.sqrt(variance)
    return Lift(p1, p0, difference, difference - margin, difference + margin)
