"""The weekly tick: close ended weeks, propose each student's plan on their plan day at their
usual active hours, and queue today's reminders for accepted plans.

Everything it sends is a delivery of kind "nudge" with purpose "nudges": the dispatcher's
send-time policy decides (consent, opt-outs, quiet hours, the daily cap, mentor holds). Keys
make every message once-only, so the tick is safe to run often and in several processes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from core.i18n import Translator
from scheduler import goal_texts as texts
from scheduler.goal_config import GoalConfig
from scheduler.goal_progress import item_done, local_start
from scheduler.plan_builder import open_work, propose, usual_hour, wanted_by_goals, week_days
from scheduler.policy import effective_consent
from scheduler.quiet_hours import is_known_zone
from scheduler.week_close import close_weeks, local_today
from scheduler.weekly_review import review
from storage import goals as goal_store
from storage import plans as plan_store
from storage.plans import StudentWeek
from storage.tables import StudyPlan

PLAN_CHANNELS = ("telegram", "webchat", "sms")
REMIND_AHEAD = timedelta(hours=2)  # queued this long before the item, when its state is known
REMINDER_LIFETIME = timedelta(hours=3)
LOOKBACK = timedelta(days=28)
# A tick stays short on a plan day: whoever is left gets their plan on the next tick.
PROPOSALS_PER_TICK = 1_000


class WeeklyPlanner:
    def __init__(
        self,
        config: GoalConfig,
        translator: Translator,
        fallback_zone: str,
        channels: Callable[[], Sequence[str]],
    ) -> None:
        self.config = config
        self.translator = translator
        self.fallback_zone = fallback_zone
        self._channels = channels

    def zone_of(self, student: StudentWeek | None) -> str:
        zone = student.zone if student else None
        return zone if zone and is_known_zone(zone) else self.fallback_zone

    def weekday_of(self, student: StudentWeek) -> int:
        if student.plan_weekday is not None:
            return student.plan_weekday
        return self.config.for_program(student.program).plan_weekday

    def run(self, session: Session, now: datetime) -> int:
        people = {s.id: s for s in plan_store.students(session)}
        earned = close_weeks(session, people, self.zone_of, self.config, now)
        due = self._due(session, people.values(), now)
        where = self._reachable(session, [s.id for s in due])
        chosen = [s for s in due if s.id in where][:PROPOSALS_PER_TICK]
        written = sum(
            self._propose(session, s, where[s.id], earned.get(s.id, []), now) for s in chosen
        )
        return written + self._remind(session, people, now)

    def _due(
        self, session: Session, people: Iterable[StudentWeek], now: datetime
    ) -> list[StudentWeek]:
        """Students whose plan day it is, locally, and who have no plan for the week yet."""
        planned = plan_store.weeks_planned(session, now.date() - timedelta(days=1))
        due = []
        for student in people:
            today = local_today(now, self.zone_of(student))
            if today.weekday() == self.weekday_of(student) and (student.id, today) not in planned:
                due.append(student)
        return due

    def _propose(
        self,
        session: Session,
        student: StudentWeek,
        where: tuple[str, str],
        badges: list[str],
        now: datetime,
    ) -> int:
        zone = self.zone_of(student)
        when = (zone, local_today(now, zone))
        return self._write_proposal(session, student, when, where, badges, now)

    def _reachable(self, session: Session, ids: list[int]) -> dict[int, tuple[str, str]]:
        """Where each plan goes: only with consent to study reminders (the send-time policy
        checks again) and a reachable identity; read for all at once."""
        consents = plan_store.consents_of(session, ids)
        allowed = [i for i in ids if effective_consent(consents.get(i, {}), "nudges") == "granted"]
        channels = [c for c in PLAN_CHANNELS if c in self._channels()]
        return plan_store.reachable(session, allowed, channels)

    def _where(self, session: Session, person_id: int) -> tuple[str, str] | None:
        return self._reachable(session, [person_id]).get(person_id)

    def _write_proposal(
        self,
        session: Session,
        student: StudentWeek,
        when: tuple[str, date],
        where: tuple[str, str],
        badges: list[str],
        now: datetime,
    ) -> int:
        zone, today = when
        plan = self.build_plan(session, student, zone, today, now)
        if plan is None:
            return 0
        t = self.translator.for_locale(student.locale)
        text = texts.weekly_text(
            t,
            review(session, t, student, today, badges, now),
            texts.plan_text(t, plan.items, accepted=False),
        )
        hour = plan.items[0]["hour"] if plan.items else 18
        due = max(now, datetime.combine(today, time(hour), ZoneInfo(zone)))
        end = datetime.combine(today + timedelta(days=1), time(0), ZoneInfo(zone))
        meta = {"locale": t.locale, "template": "weekly_plan", "plan_id": plan.id}
        key = f"weekly:{student.id}:{today.isoformat()}"
        return plan_store.queue(session, student.id, where, text, key, due, end, meta, now)

    def build_plan(
        self, session: Session, student: StudentWeek, zone: str, week_start: date, now: datetime
    ) -> StudyPlan | None:
        """The week's proposal, from today on (None if another planner made it first)."""
        events = goal_store.history(session, student.id, now - LOOKBACK, now)
        hour = usual_hour(events, zone, self.config.for_program(student.program).plan_hour)
        last = goal_store.plan_of(session, student.id, week_start - timedelta(days=7))
        carried = [i["activity"] for i in (last.items if last else []) if i.get("done") is False]
        goals = goal_store.goals_of_week(session, student.id, week_start)
        wanted = wanted_by_goals([(g.kind, g.target) for g in goals])
        days = week_days(week_start, local_today(now, zone))
        items = propose(
            days, hour, carried, open_work(events, week_start - timedelta(days=7), zone), wanted
        )
        return plan_store.save_plan(session, student.id, week_start, items, now)

    def _remind(self, session: Session, people: dict[int, StudentWeek], now: datetime) -> int:
        written = 0
        for plan in plan_store.accepted_since(session, now.date() - timedelta(days=7)):
            student = people.get(plan.person_id)
            if student is not None:
                written += self._remind_plan(session, student, plan, now)
        return written

    def _remind_plan(
        self, session: Session, student: StudentWeek, plan: StudyPlan, now: datetime
    ) -> int:
        zone, written = self.zone_of(student), 0
        for index, item in enumerate(plan.items):
            day = date.fromisoformat(item["day"])
            due = datetime.combine(day, time(item["hour"]), ZoneInfo(zone))
            if not due - REMIND_AHEAD <= now < due or item.get("done") is not None:
                continue
            where = self._where(session, student.id)
            if where is None or _kept_already(session, student.id, item, zone, due):
                continue
            t = self.translator.for_locale(student.locale)
            meta = {"locale": t.locale, "template": "plan_reminder", "plan_id": plan.id}
            written += plan_store.queue(
                session,
                student.id,
                where,
                texts.reminder_text(t, student.name, item),
                reminder_key(plan.id or 0, index, day),
                due,
                due + REMINDER_LIFETIME,
                meta,
                now,
            )
        return written


def reminder_key(plan_id: int, index: int, day: date) -> str:
    return f"plan-reminder:{plan_id}:{index}:{day.isoformat()}"


def _kept_already(
    session: Session, person_id: int, item: dict[str, object], zone: str, due: datetime
) -> bool:
    day = date.fromisoformat(str(item["day"]))
    events = goal_store.history(session, person_id, local_start(day, zone), due)
    return item_done(str(item["activity"]), day, events, zone)
