"""The effects behind /plan: show the week's plan (proposed now if there is none yet),
accept it, move an item to another day, change the plan day."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from bot.goal_effects import Handler, Week, week_of
from bot.messages import Choice, Reply
from handlers.flow import Effect
from scheduler import goal_texts as texts
from scheduler.weekly import WeeklyPlanner, reminder_key
from storage import goals as goal_store
from storage import plans as plan_store
from storage.tables import StudyPlan

if TYPE_CHECKING:
    from bot.effects import EffectContext


class PlanEffects:
    def __init__(self, planner: WeeklyPlanner) -> None:
        self.planner = planner

    def handlers(self) -> dict[str, Handler]:
        return {
            "plan_show": self.show,
            "plan_accept": self.accept,
            "plan_ask_day": self.ask_day,
            "plan_move": self.move,
            "plan_set_weekday": self.set_weekday,
        }

    def _plan(self, ctx: EffectContext, week: Week) -> StudyPlan | None:
        found = goal_store.plan_of(ctx.session, ctx.person.id, week.start)
        if found is None:  # asked before the plan day came round: propose one now
            self.planner.build_plan(ctx.session, week.student, week.zone, week.start, ctx.now)
            found = goal_store.plan_of(ctx.session, ctx.person.id, week.start)
        return found

    def show(self, ctx: EffectContext, effect: Effect) -> tuple[Reply, ...]:
        t, week = ctx.t, week_of(self.planner, ctx)
        plan = self._plan(ctx, week)
        items = plan.items if plan else []
        accepted = plan is not None and plan.accepted_at is not None
        choices = [] if accepted or not items else [Choice("accept", t._("Accept the plan"))]
        choices += [
            _move_choice(ctx, i, item)
            for i, item in sorted(enumerate(items), key=lambda pair: pair[1]["day"])
            if date.fromisoformat(item["day"]) >= week.today
        ]
        choices += [Choice("day", t._("Change my plan day")), Choice("close", t._("Done"))]
        return (Reply(texts.plan_text(t, items, accepted), tuple(choices)),)

    def accept(self, ctx: EffectContext, effect: Effect) -> tuple[Reply, ...]:
        plan = goal_store.plan_of(ctx.session, ctx.person.id, week_of(self.planner, ctx).start)
        if plan is None or not plan.items:
            return (Reply(ctx.t._("There is no plan to accept yet.")),)
        if plan.accepted_at is None:
            plan_store.update_plan(ctx.session, plan, status="accepted", accepted_at=ctx.now)
        return (Reply(ctx.t._("Plan accepted. I'll remind you on the day.")),)

    def ask_day(self, ctx: EffectContext, effect: Effect) -> tuple[Reply, ...]:
        t, week = ctx.t, week_of(self.planner, ctx)
        item = self._item(ctx, week, int(effect.args["index"]))
        if item is None:
            return (Reply(t._("That item is no longer in your plan.")),)
        days = _days_left(week)
        choices = tuple(Choice(f"day:{d.isoformat()}", texts.day_label(d, t.locale)) for d in days)
        text = t._(
            "Which day for “{activity}”?", activity=texts.activity_label(t, item["activity"])
        )
        return (Reply(text, (*choices, Choice("back", t._("Back")))),)

    def _item(self, ctx: EffectContext, week: Week, index: int) -> dict[str, object] | None:
        plan = goal_store.plan_of(ctx.session, ctx.person.id, week.start)
        if plan is None or not 0 <= index < len(plan.items):
            return None
        return dict(plan.items[index])

    def move(self, ctx: EffectContext, effect: Effect) -> tuple[Reply, ...]:
        t, week = ctx.t, week_of(self.planner, ctx)
        plan = goal_store.plan_of(ctx.session, ctx.person.id, week.start)
        index, day = int(effect.args["index"]), date.fromisoformat(str(effect.args["day"]))
        if plan is None or not 0 <= index < len(plan.items) or day not in _days_left(week):
            return (Reply(t._("That item is no longer in your plan.")),)
        items = [dict(item) for item in plan.items]
        old = date.fromisoformat(items[index]["day"])
        items[index]["day"] = day.isoformat()
        plan_store.update_plan(ctx.session, plan, items=items)
        # A reminder queued for the old day must not go out.
        plan_store.withdraw(ctx.session, reminder_key(plan.id or 0, index, old), ctx.now)
        return (Reply(t._("Moved to {day}.", day=texts.day_label(day, t.locale))),)

    def set_weekday(self, ctx: EffectContext, effect: Effect) -> tuple[Reply, ...]:
        weekday = int(effect.args["weekday"]) % 7
        before = week_of(self.planner, ctx)
        goal_store.set_plan_weekday(ctx.session, ctx.person.id, weekday, ctx.now)
        after = week_of(self.planner, ctx)
        goal_store.move_week(ctx.session, ctx.person.id, before.start, after.start)
        name = texts.weekday_name(weekday, ctx.t.locale)
        return (Reply(ctx.t._("Your weekly plan will now come every {day}.", day=name)),)


def _move_choice(ctx: EffectContext, index: int, item: dict[str, Any]) -> Choice:
    t = ctx.t
    day = texts.day_label(date.fromisoformat(item["day"]), t.locale)
    label = t._(
        "Move: {activity} ({day})", activity=texts.activity_label(t, item["activity"]), day=day
    )
    return Choice(f"move:{index}", label)


def _days_left(week: Week) -> list[date]:
    days = (week.start + timedelta(days=n) for n in range(7))
    return [d for d in days if d >= week.today]
