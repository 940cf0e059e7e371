"""The effects behind /goals and /progress: what the flows ask for, read and written in the
turn's transaction. Registered by the composition root (bot/app.py) with the goals file's
rules; the replies' texts live in scheduler/goal_texts.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from bot.messages import Choice, Reply
from handlers.flow import Effect
from scheduler import goal_progress as rules
from scheduler import goal_texts as texts
from scheduler.goal_config import OWN, GoalOffer, ProgramRules
from scheduler.personas import engagement_persona
from scheduler.week_close import local_today
from scheduler.weekly import WeeklyPlanner
from storage import goals as goal_store
from storage.plans import StudentWeek
from storage.tables import Goal

if TYPE_CHECKING:
    from bot.effects import EffectContext

Handler = Callable[["EffectContext", Effect], tuple[Reply, ...]]
OWN_GOAL_CHARS = 120


def students_only(handlers: dict[str, Handler]) -> dict[str, Handler]:
    """Goals and plans are a student's: anyone else typing the commands is told so."""

    def guard(handler: Handler) -> Handler:
        def run(ctx: EffectContext, effect: Effect) -> tuple[Reply, ...]:
            if ctx.person.role != "student":
                return (Reply(ctx.t._("Goals, plans and progress are for students.")),)
            return handler(ctx, effect)

        return run

    return {kind: guard(handler) for kind, handler in handlers.items()}


@dataclass(frozen=True, slots=True)
class Week:
    zone: str
    today: date
    start: date
    rules: ProgramRules
    student: StudentWeek


def week_of(planner: WeeklyPlanner, ctx: EffectContext) -> Week:
    """The person's week as it stands now, in their zone, from their (or the program's) day."""
    p = ctx.person
    weekday = goal_store.plan_weekday(ctx.session, p.id)
    student = StudentWeek(
        p.id, (p.display_name or "").split(" ")[0], p.locale, p.time_zone, p.program, weekday
    )
    zone = planner.zone_of(student)
    today = local_today(ctx.now, zone)
    start = rules.week_start_for(today, planner.weekday_of(student))
    return Week(zone, today, start, planner.config.for_program(p.program), student)


class GoalEffects:
    def __init__(self, planner: WeeklyPlanner) -> None:
        self.planner = planner

    def handlers(self) -> dict[str, Handler]:
        return {
            "goals_show": self.show,
            "goals_set": self.set_goal,
            "goals_check_in": self.check_in,
        }

    def show(self, ctx: EffectContext, effect: Effect) -> tuple[Reply, ...]:
        t, week = ctx.t, week_of(self.planner, ctx)
        goals = goal_store.goals_of_week(ctx.session, ctx.person.id, week.start)
        lines = [self._line(ctx, week, g) for g in goals]
        head = (
            t._("Your goals for this week:")
            if goals
            else t._("No goals yet for this week. Pick one, or write your own:")
        )
        return (Reply("\n".join([head, *lines]), self._choices(ctx, week, goals)),)

    def _line(self, ctx: EffectContext, week: Week, goal: Goal) -> str:
        start, end = rules.week_bounds(goal.week_start, week.zone)
        events = goal_store.history(ctx.session, ctx.person.id, start, min(end, ctx.now))
        progress = rules.goal_progress(
            goal.kind, goal.target, events, week.zone, checked_in=goal.checked_in_at is not None
        )
        label = texts.goal_label(ctx.t, goal.kind, goal.target, goal.text)
        return texts.goal_line(ctx.t, label, progress, goal.status)

    def _choices(self, ctx: EffectContext, week: Week, goals: list[Goal]) -> tuple[Choice, ...]:
        t, taken = ctx.t, {g.kind for g in goals}
        engagement = engagement_persona(goal_store.history(ctx.session, ctx.person.id), ctx.now)
        found = [
            Choice(f"set:{o.kind}:{o.target}", texts.goal_label(t, o.kind, o.target))
            for o in week.rules.offers(engagement.value)
            if o.kind not in taken
        ]
        if OWN not in taken:
            found.append(Choice("own", t._("A goal in my own words")))
        found += [
            Choice(f"checkin:{g.id}", t._("I did it: {goal}", goal=g.text or "—"))
            for g in goals
            if g.kind == OWN and g.checked_in_at is None
        ]
        return (*found, Choice("close", t._("Done")))

    def set_goal(self, ctx: EffectContext, effect: Effect) -> tuple[Reply, ...]:
        week, args = week_of(self.planner, ctx), effect.args
        kind, target = str(args["kind"]), max(1, int(args.get("target", 1)))
        offered = {(o.kind, o.target) for o in _all_offers(week.rules)}
        if kind != OWN and (kind, target) not in offered:
            return (Reply(ctx.t._("Please pick one of the options.")),)
        text = None
        if kind == OWN:
            text = str(args.get("text") or "")[:OWN_GOAL_CHARS].strip() or None
            if text is None:
                return (Reply(ctx.t._("Please write your goal in a few words.")),)
        goal_store.set_goal(ctx.session, ctx.person.id, week.start, kind, target, ctx.now, text)
        label = texts.goal_label(ctx.t, kind, target, text)
        return (Reply(ctx.t._("Goal set for this week: {goal}", goal=label)),)

    def check_in(self, ctx: EffectContext, effect: Effect) -> tuple[Reply, ...]:
        goal = goal_store.check_in(ctx.session, ctx.person.id, int(effect.args["id"]), ctx.now)
        if goal is None:
            return (Reply(ctx.t._("That goal is no longer open.")),)
        return (Reply(ctx.t._("Well done! ✅ {goal}", goal=goal.text or "—")),)


def _all_offers(program: ProgramRules) -> set[GoalOffer]:
    return {offer for offers in program.goals.values() for offer in offers}
