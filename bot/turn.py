"""One turn of a conversation, run inside one database transaction."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session

from bot.choices import resolve_choice
from bot.clock import Clock
from bot.deep_links import answer_link, open_student_link
from bot.effects import EffectContext, apply_effect
from bot.engine_types import Handled
from bot.i18n import Translator
from bot.messages import Inbound, Reply
from bot.turn_gate import Gate, Support
from handlers.commands import find_command
from handlers.digressions import digression
from handlers.eligibility import EligibilityRule
from handlers.flow import Flow, PersonView, Step, Turn
from handlers.registry import AUTOMATIC, split_target
from scheduler.policy import SendPolicy
from storage import consent as consent_store
from storage.conversations import ConversationState, load_conversation, save_conversation
from storage.erasure import FORGET_AFTER_SEND
from storage.guardians import wards_of
from storage.lifecycle import mark_replied
from storage.outbox import add_replies
from storage.people import PersonRow, create_person, set_reachable
from storage.tables import MessageLog
from storage.turns import TurnState, load_turn
from storage.upsert import insert_ignore

_MAX_HOPS = 5
# A parent resting in the default flows is answered by the parents' flow instead.
_PARENT_ENTRY_FLOWS = frozenset({"onboarding", "main"})


@dataclass(slots=True)
class _Progress:
    flow: str
    state: str
    data: dict[str, Any]
    replies: list[Reply] = field(default_factory=list)


class TurnRunner:
    def __init__(
        self,
        flows: Mapping[str, Flow],
        translator: Translator,
        clock: Clock,
        rule: EligibilityRule,
        consent_text_version: str,
        policy: SendPolicy | None = None,
        support: Support | None = None,
    ) -> None:
        self._flows = flows
        self._translator = translator
        self._clock = clock
        self._rule = rule
        self._text_version = consent_text_version
        self._policy = policy or SendPolicy()
        self._support = support or Support()
        self._knowledge = self._support.knowledge
        self._gate = Gate(self._support, self._policy, self._view)

    def run(self, session: Session, inbound: Inbound) -> Handled:
        now = self._clock.now()
        opened = open_student_link(session, inbound, now)
        loaded = self._load(session, inbound, now, opened.student if opened else None)
        person = loaded.person
        log_row = dict(
            channel=inbound.channel,
            external_id=inbound.external_id,
            person_id=person.id,
            direction="in",
            text=inbound.text,
            created_at=now,
        )
        if not insert_ignore(session, MessageLog.__table__, log_row):
            return Handled(duplicate=True, person_id=person.id)
        if loaded.unengaged_nudges:
            mark_replied(session, person.id, now)  # a reply engages the nudges sent recently
        if loaded.was_unreachable:  # they wrote from it: the chat or number works again
            set_reachable(session, inbound.channel, inbound.address, True)
        conversation = loaded.conversation or ConversationState(
            "onboarding", "start", {}, 0, "bot", new=True
        )
        ctx = EffectContext(
            session,
            person,
            loaded.consent,
            inbound,
            now,
            self._translator.for_locale(person.locale),
            self._text_version,
            desk=self._support.desk,
            features=self._support.features,
        )
        early = answer_link(ctx, opened, self._gate.judge)
        if early is None:
            early = self._gate.before_flows(ctx, conversation.mode, conversation.flow)
        if early is not None:
            return Handled(False, [*early, *ctx.extra], person.id)
        progress = _Progress(conversation.flow, conversation.state, dict(conversation.data))
        if person.role == "parent" and progress.flow in _PARENT_ENTRY_FLOWS:
            progress.flow, progress.state = "parents", "start"
        self._advance(ctx, progress)
        if not ctx.erased:
            save_conversation(
                session,
                person.id or 0,
                conversation.version,
                flow=progress.flow,
                state=progress.state,
                data=progress.data,
                now=now,
                new=conversation.new,
                contended=not loaded.created,
            )
        outbound = add_replies(
            session,
            person_id=None if ctx.erased else person.id,
            channel=inbound.channel,
            address=inbound.address,
            replies=progress.replies,
            now=now,
            # After an erasure the goodbye must not keep the address once it is sent.
            meta={"locale": ctx.t.locale, **({FORGET_AFTER_SEND: True} if ctx.erased else {})},
            verdict=self._gate.judge(ctx, "reply") if progress.replies else None,
        )
        return Handled(False, [*outbound, *ctx.extra], person.id)

    def _load(
        self, session: Session, inbound: Inbound, now: datetime, linked: PersonRow | None
    ) -> TurnState:
        """Usually one query; a deep link or a first contact takes a longer way."""
        if linked is not None:
            return TurnState(
                linked,
                load_conversation(session, linked.id, now),
                consent_store.current_consent(session, linked.id),
            )
        found = load_turn(session, inbound.channel, inbound.address)
        if found is not None:
            return found
        locale = self._translator.resolve(inbound.locale_hint)
        person = create_person(
            session,
            inbound.channel,
            inbound.address,
            now,
            locale=locale,
            display_name=inbound.display_name,
        )
        return TurnState(person, None, {}, created=True)

    def _advance(self, ctx: EffectContext, progress: _Progress) -> None:
        command = find_command(ctx.inbound.text) if not ctx.inbound.choice_id else None
        if command is not None:
            _name, cmd = command
            if cmd.effect is not None:
                progress.replies.extend(apply_effect(ctx, cmd.effect))
            entered = cmd.target is not None and self._move(progress, cmd.target)
        elif self._is_stale(ctx.inbound.choice_id, progress):
            text = ctx.t._("That button is no longer active. Please use the latest message.")
            progress.replies.append(Reply(text))
            return
        else:
            choice = ctx.inbound.choice_id or resolve_choice(
                ctx.inbound.text, progress.data.get("offered", [])
            )
            if self._digress(ctx, progress, choice):
                return
            entered = self._step(ctx, progress, choice)
        for _hop in range(_MAX_HOPS):
            if not entered or ctx.erased:
                break
            if (progress.flow, progress.state) in AUTOMATIC:
                entered = self._step(ctx, progress, None)
                continue
            self._prompt(ctx, progress)
            break
        self._remember_choices(progress, entered)

    def _digress(self, ctx: EffectContext, progress: _Progress, choice: str | None) -> bool:
        """A question while a flow waits: answered, and the flow's question asked again."""
        if progress.state == "idle" or progress.flow == "privacy":
            return False
        flow = self._flows[progress.flow]
        step = digression(self._turn(ctx, progress, choice), flow, progress.state)
        if step is None:
            return False
        progress.replies.extend(step.replies)
        for effect in step.effects:
            progress.replies.extend(apply_effect(ctx, effect))
        self._remember_choices(progress, entered=False)
        return True

    def _step(self, ctx: EffectContext, progress: _Progress, choice: str | None) -> bool:
        flow = self._flows[progress.flow]
        step: Step = flow.steps[progress.state](self._turn(ctx, progress, choice))
        progress.replies.extend(step.replies)
        for effect in step.effects:
            progress.replies.extend(apply_effect(ctx, effect))
        progress.data.update(step.data)
        return self._move(progress, flow.target(progress.state, step.event))

    def _move(self, progress: _Progress, target: str) -> bool:
        flow, state = split_target(progress.flow, target)
        moved = (flow, state) != (progress.flow, progress.state)
        progress.flow, progress.state = flow, state
        return moved or target.startswith(flow + ":")

    def _prompt(self, ctx: EffectContext, progress: _Progress) -> None:
        prompt = self._flows[progress.flow].prompts.get(progress.state)
        if prompt is not None:
            progress.replies.extend(prompt(self._turn(ctx, progress, None)))

    def _turn(self, ctx: EffectContext, progress: _Progress, choice: str | None) -> Turn:
        ctx.t = self._translator.for_locale(ctx.person.locale)
        return Turn(
            self._view(ctx), ctx.inbound, ctx.now, ctx.t, progress.data, choice, self._knowledge
        )

    def _view(self, ctx: EffectContext) -> PersonView:
        p = ctx.person
        eligible = self._rule.allows(
            role=p.role,
            track=p.track,
            program=p.program,
            last_active_at=p.last_active_at,
            now=ctx.now,
        )
        return PersonView(
            p.id or 0,
            p.role,
            p.display_name,
            ctx.t.locale,
            p.phone_e164,
            eligible,
            p.under_13,
            dict(ctx.consent),
            p.program,
            # Only a parent has wards: their children under 13, whose reminders they decide.
            wards_of(ctx.session, p.id or 0) if p.role == "parent" else (),
        )

    @staticmethod
    def _is_stale(choice_id: str | None, progress: _Progress) -> bool:
        """A pressed button must be one the conversation offers now (not an old or forged one)."""
        if choice_id is None:
            return False
        return choice_id not in {option["id"] for option in progress.data.get("offered", [])}

    @staticmethod
    def _remember_choices(progress: _Progress, entered: bool) -> None:
        offered = [r for r in progress.replies if r.choices]
        if offered:
            progress.data["offered"] = [
                {"id": c.id, "label": c.label} for c in offered[-1].choices
            ]
        elif entered:
            progress.data["offered"] = []
