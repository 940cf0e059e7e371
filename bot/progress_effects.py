"""/progress: this week's goals, streaks, points and badges, and what classmates did.

Streaks, points, badges and social proof are shown only where the student's program has them
switched on (scheduler/goals.yaml); goals always are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.goal_effects import Handler, Week, week_of
from bot.i18n import Gettext
from bot.messages import Reply
from handlers.flow import Effect
from scheduler import goal_progress as rules
from scheduler import goal_texts as texts
from scheduler.standing import Standing, award_badges, standing
from scheduler.weekly import WeeklyPlanner
from storage import goals as goal_store
from storage.plan_render import PEER_DONE, peer_counts

if TYPE_CHECKING:
    from bot.effects import EffectContext

SOCIAL_PROOF_MIN = 3  # fewer classmates than this says little, and may point at someone


class ProgressEffects:
    def __init__(self, planner: WeeklyPlanner) -> None:
        self.planner = planner

    def handlers(self) -> dict[str, Handler]:
        return {"progress_show": self.show}

    def show(self, ctx: EffectContext, effect: Effect) -> tuple[Reply, ...]:
        t, week = ctx.t, week_of(self.planner, ctx)
        lines = [t._("Your progress:"), self._goals_line(ctx, week)]
        if week.rules.gamification:
            new = award_badges(ctx.session, ctx.person.id, week.zone, ctx.now)
            current = goal_store.plan_of(ctx.session, ctx.person.id, week.start)
            found = standing(ctx.session, ctx.person.id, week.zone, ctx.now, current)
            lines += _standing_lines(t, found)
            lines += [t._("New badge: {badge} 🏅", badge=texts.badge_label(t, b)) for b in new]
        if week.rules.social_proof:
            lines += _social_proof(ctx)
        return (Reply("\n".join(lines)),)

    def _goals_line(self, ctx: EffectContext, week: Week) -> str:
        goals = goal_store.goals_of_week(ctx.session, ctx.person.id, week.start)
        if not goals:
            return ctx.t._("No goals this week yet: /goals sets one.")
        start, end = rules.week_bounds(week.start, week.zone)
        events = goal_store.history(ctx.session, ctx.person.id, start, min(end, ctx.now))
        met = sum(
            1
            for g in goals
            if rules.goal_progress(
                g.kind, g.target, events, week.zone, g.checked_in_at is not None
            ).met
        )
        return ctx.t._("Goals this week: {met} of {total} met", met=met, total=len(goals))


def _standing_lines(t: Gettext, found: Standing) -> list[str]:
    badges = ", ".join(texts.badge_label(t, b) for b in found.badges) or t._("none yet")
    return [
        t._(
            "🔥 Classes in a row: {n} (best: {best})",
            n=found.attendance,
            best=found.best_attendance,
        ),
        t._("📅 Plan items kept in a row: {n}", n=found.plan_streak),
        t._("⭐ Points: {points}", points=found.points),
        t._("🏅 Badges: {badges}", badges=badges),
    ]


def _social_proof(ctx: EffectContext) -> list[str]:
    """Classmates (given the same test or assignment) who finished it: only when enough did."""
    events = goal_store.history(ctx.session, ctx.person.id, until=ctx.now)
    latest = {e.type: e.ref for e in events if e.ref}
    lines = []
    for given, words in (("test_started", "test"), ("assignment_assigned", "assignment")):
        ref = latest.get(given)
        if ref is None:
            continue
        done, _total = peer_counts(ctx.session, {(ref, given)})[(ref, given)]
        done -= any(e.type == PEER_DONE[given] and e.ref == ref for e in events)  # not "you"
        if done >= SOCIAL_PROOF_MIN:
            lines.append(_proof_text(ctx.t, words, done))
    return lines


def _proof_text(t: Gettext, words: str, done: int) -> str:
    if words == "test":
        return t.ngettext(
            "{n} classmate finished this test", "{n} classmates finished this test", done
        )
    return t.ngettext(
        "{n} classmate submitted this assignment", "{n} classmates submitted this assignment", done
    )
