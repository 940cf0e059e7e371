"""Before any flow sees a message: crisis safety, compliance keywords, invitations, the
mentors' desk, and held conversations. Each of these answers the message alone."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.admin_desk import AdminDesk
from bot.crisis_turn import Safety, answer_crisis
from bot.desk_actions import DeskEffects
from bot.effects import EffectContext, apply_effect
from bot.invitations import is_invitation, redeem
from bot.messages import Channel, Outbound, Reply
from handlers.admin import admin_effect
from handlers.commands import find_command
from handlers.flow import PersonView, Turn
from handlers.mentor import is_staff_command, staff_effect
from handlers.optout import OptState, Scope, compliance_answer, keyword_of
from handlers.retrieval import KnowledgeBase
from scheduler.policy import COMPLIANCE_KIND, SendPolicy, Verdict
from storage import sms as sms_store
from storage.chat_opt_outs import chat_state
from storage.claims import reply_facts
from storage.outbox import add_replies
from storage.tables import Identity, OptOut

STAFF_ROLES = frozenset({"mentor", "admin"})
# A student's data rights work during a mentor's hold too: the bot answers these itself.
DATA_RIGHTS = frozenset({"/mydata", "/forgetme"})


def _own_rights(ctx: EffectContext, flow: str) -> bool:
    """/mydata, /forgetme and the erasure's confirmation are the student's, not the mentor's."""
    found = find_command(ctx.inbound.text) if not ctx.inbound.choice_id else None
    return flow == "privacy" or (found is not None and found[0] in DATA_RIGHTS)


_HELP = frozenset({"/help", "/start"})


def _command_name(text: str) -> str:
    head = text.strip().split(maxsplit=1)[0] if text.strip() else ""
    return head.split("@", 1)[0].lower()


@dataclass(frozen=True, slots=True)
class Support:
    """What turns use besides the flows: answers, crisis safety, the mentors' desk."""

    knowledge: KnowledgeBase | None = None
    safety: Safety | None = None
    desk: DeskEffects | None = None
    admin_chats: frozenset[str] = frozenset()  # Telegram chats of MENTORBOT_ADMIN_TELEGRAM_IDS
    admin: AdminDesk | None = None
    features: dict[str, Any] = field(default_factory=dict)  # effect kind -> handler


class Gate:
    def __init__(
        self, support: Support, policy: SendPolicy, view: Callable[[EffectContext], PersonView]
    ) -> None:
        self._support = support
        self._policy = policy
        self._view = view

    def before_flows(self, ctx: EffectContext, mode: str, flow: str) -> list[Outbound] | None:
        """Safety first, then compliance keywords, the mentors' desk and held conversations:
        each answers the message alone, or None lets the flows have it."""
        safety = self._support.safety
        if safety is not None:
            crisis = answer_crisis(ctx, safety, lambda kind: self.judge(ctx, kind))
            if crisis is not None:
                return crisis
        answered = self._compliance(ctx)
        if answered is not None:
            return answered
        if ctx.inbound.link_token and is_invitation(ctx.inbound.link_token):
            return self._reply(ctx, redeem(ctx, ctx.inbound.link_token))
        admin = self._admin(ctx)
        if admin is not None:
            return admin
        if self._is_staff(ctx):
            return self._staff(ctx)
        if is_staff_command(ctx.inbound.text):
            return self._reply(ctx, (Reply(ctx.t._("That command is for mentors.")),))
        desk = self._support.desk
        held = mode == "human" and desk is not None and not _own_rights(ctx, flow)
        if held and desk is not None and desk.from_student(ctx):
            return []  # relayed to the mentor; the bot says nothing
        return None

    def _admin(self, ctx: EffectContext) -> list[Outbound] | None:
        """Admin commands and buttons (refused for anyone else); an admin's /help lists both."""
        desk = self._support.admin
        if desk is None:
            return None
        turn = Turn(self._view(ctx), ctx.inbound, ctx.now, ctx.t, {}, ctx.inbound.choice_id)
        effect = admin_effect(turn)
        if effect is not None:
            return self._reply(ctx, desk.apply(ctx, effect))
        asks_help = not ctx.inbound.choice_id and _command_name(ctx.inbound.text) in _HELP
        if asks_help and desk.is_admin(ctx):
            return self._reply(ctx, desk.help(ctx))
        return None

    def _is_staff(self, ctx: EffectContext) -> bool:
        if ctx.person.role in STAFF_ROLES:
            return True
        inbound = ctx.inbound
        return inbound.channel == Channel.TELEGRAM and inbound.address in self._support.admin_chats

    def _staff(self, ctx: EffectContext) -> list[Outbound] | None:
        """Mentor commands, buttons and relays; None for the ordinary commands (/settings…)."""
        turn = Turn(self._view(ctx), ctx.inbound, ctx.now, ctx.t, {}, ctx.inbound.choice_id)
        effect = staff_effect(turn)
        if effect is None or self._support.desk is None:
            return None
        return self._reply(ctx, apply_effect(ctx, effect))

    def _reply(self, ctx: EffectContext, replies: Sequence[Reply]) -> list[Outbound]:
        return add_replies(
            ctx.session,
            person_id=ctx.person.id,
            channel=ctx.inbound.channel,
            address=ctx.inbound.address,
            replies=replies,
            now=ctx.now,
            meta={"locale": ctx.t.locale},
            verdict=self.judge(ctx, "reply") if replies else None,
        )

    def judge(self, ctx: EffectContext, kind: str) -> Verdict:
        """The send-time policy, asked in this transaction: the replies go out right after it."""
        inbound = ctx.inbound
        facts = reply_facts(
            ctx.session, ctx.person, ctx.consent, inbound.channel, inbound.address, kind
        )
        return self._policy.verdict(facts, ctx.now)

    def _compliance(self, ctx: EffectContext) -> list[Outbound] | None:
        """STOP, START, HELP, PAUSE: answered before any flow, command or mentor's hold, as
        compliance; about the phone number on SMS, about the chat itself anywhere else."""
        inbound = ctx.inbound
        scope = Scope.NUMBER if inbound.channel == Channel.SMS else Scope.CHAT
        if scope is Scope.CHAT and self._is_staff(ctx):
            return None  # staff get no proactive messages; their "stop" is for the student
        keyword = keyword_of(
            inbound.text, scope, pressed=bool(inbound.choice_id), answered=inbound.keyword_answered
        )
        if keyword is None:
            return None
        state = self._opt_state(ctx, scope)  # read for keywords only: most messages are none
        answered = inbound.keyword_answered is not None
        answer = compliance_answer(keyword, inbound.text, state, ctx.t, scope, answered=answered)
        if answer is None:
            return None
        for effect in answer.effects:
            apply_effect(ctx, effect)
        return add_replies(
            ctx.session,
            person_id=ctx.person.id,
            channel=inbound.channel,
            address=inbound.address,
            # The carrier answered it already: one confirmation, never two.
            replies=() if answered else answer.replies,
            now=ctx.now,
            kind=COMPLIANCE_KIND,
            meta={"locale": ctx.t.locale},
        )

    @staticmethod
    def _opt_state(ctx: EffectContext, scope: Scope) -> OptState:
        inbound = ctx.inbound
        if scope is Scope.NUMBER:
            row: OptOut | Identity | None = sms_store.opt_out_row(ctx.session, inbound.address)
        else:
            row = chat_state(ctx.session, inbound.channel, inbound.address)
        if row is None:
            return OptState()
        paused = row.paused_until is not None and row.paused_until > ctx.now
        return OptState(opted_out=bool(row.opted_out), paused=paused)
