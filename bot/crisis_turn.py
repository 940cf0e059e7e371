"""Crisis safety, first on every inbound message of every channel and state.

On a match the student gets the localized resources at once (kind "safety": never held by quiet
hours or a mentor hold), an urgent escalation is raised or joined, and the log says so at error
level. Nothing else answers that message: no flow, no command, no compliance keyword. The log
names the category and pattern, never the student's words.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import structlog

from bot.effects import EffectContext, apply_effect
from bot.messages import Outbound
from handlers.crisis import CrisisDetector
from handlers.escalation import escalate
from handlers.safety import CrisisResources, country_of, crisis_reply
from scheduler.policy import SAFETY_KIND, Verdict
from storage.outbox import add_replies

log = structlog.get_logger("mentorbot.safety")


@dataclass(frozen=True, slots=True)
class Safety:
    detector: CrisisDetector
    resources: CrisisResources


def answer_crisis(
    ctx: EffectContext, safety: Safety, judge: Callable[[str], Verdict]
) -> list[Outbound] | None:
    """The safety reply and the urgent escalation, or None when the message is no crisis."""
    found = safety.detector.detect(ctx.inbound.text)
    if found is None:
        return None
    person = ctx.person
    log.error("crisis.detected", person=person.id, channel=ctx.inbound.channel,
              category=found.category, pattern=found.pattern_id, language=found.language)
    apply_effect(ctx, escalate("crisis", urgent=True, tags=(found.category,), silent=True))
    country = safety.resources.for_country(country_of(person.phone_e164, person.time_zone))
    return add_replies(
        ctx.session,
        person_id=person.id,
        channel=ctx.inbound.channel,
        address=ctx.inbound.address,
        replies=[crisis_reply(ctx.t, country, found.category)],
        now=ctx.now,
        kind=SAFETY_KIND,
        meta={"locale": ctx.t.locale, "crisis": found.category},
        verdict=judge(SAFETY_KIND),
    )
