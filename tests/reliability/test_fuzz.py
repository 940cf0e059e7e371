"""Fuzz: generated inbound messages across every flow, persona and channel, straight into the
engine (hypothesis). No turn may raise or be apologised for, no exception may be logged where it
was caught, and afterwards every conversation is in a declared state of a declared flow and no
delivery is left in a status that no code moves it out of. Problems are collected, not raised at
once: the run goes on, and the figures and every problem (with the message that caused it) are
printed at the end. Quick size: the same inputs every run (derandomized); full: new ones.

Each example is a small cast (students of every kind, a newcomer, a parent of two, a mentor and
an admin, each reachable on Telegram, SMS and the web chat) and a script drawn step by step:
a pressed or typed answer to what the person was just offered, commands (the students', the
mentors', the admins'), compliance keywords, phone numbers and shared contacts, questions, a
crisis message, stale and forged buttons, arbitrary text; now and then the clock moves and the
scheduler's jobs run (drain, nudges, digests, the desk's timers, weekly plans, briefs).
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlmodel import Session

from bot.app import Runtime, build_runtime
from bot.clock import FakeClock
from bot.messages import Inbound, Reply
from handlers.admin import ADMIN_COMMANDS
from handlers.commands import COMMANDS, WORDS
from handlers.mentor import STAFF_COMMANDS
from handlers.registry import default_flows
from storage.guardians import ensure_parent, link_guardian
from storage.mentors import ensure_profile
from storage.people import link_identity
from storage.tables import ConsentRecord, Conversation, Delivery, Escalation, Person
from tests.conftest import START, make_settings
from tests.fakes import RecordingSender
from tests.reliability.conftest import FULL, Report, sized
from tests.reliability.tally import logged_exceptions

FLOWS = default_flows()
CHANNELS = ("telegram", "sms", "webchat")
ADMIN_CHAT = "990001"  # an admin by MENTORBOT_ADMIN_TELEGRAM_IDS, with no admin role
STEPS = 25  # messages per example
EXAMPLES = sized(20, 400)  # x STEPS: 500 quick, 10,000 full
# Statuses a delivery may rest in; "claimed" and "sending" must not outlive a drain.
RESTING = {"pending", "held", "holdout", "sent", "delivered", "undelivered", "failed",
           "suppressed", "cancelled", "review"}  # fmt: skip
IN_FLIGHT = {"claimed", "sending"}
ESCALATION_STATUSES = {"open", "offered", "taken", "resolved", "released", "expired"}
KINDS = ("newcomer", "student", "consented", "ineligible", "under_13", "teen", "parent",
         "mentor", "admin", "admin_chat")  # fmt: skip

NASTY = ["", "   ", "\n\n", "\x00\x01binary\xff", "\ud800 lone surrogate", "😀😀😀", "🇺🇸👍🏽",
         "مرحبا، أريد مساعدة", "Hello мир नमस्ते 你好", "\u202eevil\u202c", "１２３", "٣", "NaN",
         "{name}", "%s %d", "<b>bold</b>", "a" * 5000, "yes" * 300, "/start " + "x" * 300,
         "/settings@mybot", "/take #", "/take 99999999999999999999", "/note", "/find",
         "/broadcast", "/export -1", "/export 99999999999", "/available maybe", "/resolve",
         "adm:", "take:", "c:yes"]  # fmt: skip
KEYWORDS = ["STOP", "stop", "Stop texting me", "unsubscribe", "START", "unstop", "HELP", "PAUSE",
            "YES", "yes", "sí", "да", "/stop", "/start", "/help", "cancel", "quit", "end"]
PHONES = ["415 555 2671", "(212) 555-0199", "+1 415 555 2671 ext 9", "+44 7911 123456",
          "447911123456", "+999 123", "1" * 64, "+12125550177", "000", "5555555555"]
QUESTIONS = ["When is the exam?", "how do I reset my password", "What is a MicroBachelors?",
             "can I get a refund", "¿cuándo es el examen?", "talk to a human",
             "quiero hablar con una persona", "I need help with my homework",
             "I want to kill myself", "no quiero vivir", "I'm so stressed about the test"]
CHOICE_IDS = ["yes", "no", "decline", "toggle", "phone", "language", "es", "ru", "hi", "en",
              "done", "other", "zzz", "adm:stats", "adm:review:1", "adm:x:y:z", "take:1",
              "pass:1", "card:1", "take:x", "", "c:" + "x" * 62]  # fmt: skip
ADVANCES = [timedelta(minutes=1), timedelta(minutes=20), timedelta(hours=3), timedelta(days=1),
            timedelta(days=8)]  # fmt: skip

_numbers = itertools.count(1)


@dataclass
class Persona:
    kind: str
    addresses: dict[str, str]
    heard: dict[str, list[Reply]] = field(default_factory=dict)

    def offered(self, channel: str) -> list[Any]:
        for reply in reversed(self.heard.get(channel, [])):
            if reply.choices:
                return list(reply.choices)
        return []


@dataclass
class Tally:
    messages: int = 0
    examples: int = 0
    raised: list[str] = field(default_factory=list)
    apologies: int = 0
    invalid_states: list[str] = field(default_factory=list)
    by_channel: dict[str, int] = field(default_factory=dict)
    staff: list[Persona] = field(default_factory=list)


def _addresses(kind: str) -> dict[str, str]:
    n = next(_numbers)
    return {
        "telegram": ADMIN_CHAT if kind == "admin_chat" else str(7_000_000 + n),
        "sms": f"+1212{2_000_000 + n:07d}",
        "webchat": f"fuzz-{kind}-{n}",
    }


def _person(session: Session, now: Any, kind: str, addresses: dict[str, str]) -> int:
    role = {"parent": "parent", "mentor": "mentor", "admin": "admin"}.get(kind, "student")
    person = Person(
        role=role,
        display_name=f"{kind.title()} {addresses['webchat'][-4:]}",
        locale="en",
        track="audit" if kind == "ineligible" else "verified",
        program="microbachelors-cs",
        last_active_at=now - timedelta(days=2),
        under_13=kind == "under_13",
        phone_e164=addresses["sms"],
        time_zone="America/New_York",
        created_at=now,
    )
    session.add(person)
    session.flush()
    for channel, address in addresses.items():
        link_identity(session, person.id or 0, channel, address, now)
    if kind == "consented":
        session.add(ConsentRecord(person_id=person.id, purpose="coaching", decision="granted",
                                  created_at=now))  # fmt: skip
    if kind == "mentor":
        ensure_profile(session, person.id or 0, now, available=True)
    return person.id or 0


STAFF = ("mentor", "admin", "admin_chat")


def make_cast(runtime: Runtime, staff: list[Persona]) -> list[Persona]:
    """New students, a newcomer and a parent for each example; the staff (a mentor, an admin,
    the admin chat) are made once and stay, as staff do: their desk fills up over the run."""
    now = runtime.clock.now()
    cast = [Persona(kind, _addresses(kind)) for kind in KINDS
            if kind not in STAFF or not staff]  # fmt: skip

    def write(session: Session) -> None:
        ids = {p.kind: _person(session, now, p.kind, p.addresses)
               for p in cast if p.kind not in ("newcomer", "admin_chat")}  # fmt: skip
        parent = session.get(Person, ids["parent"])
        for child in ("under_13", "teen"):
            link_guardian(session, parent, session.get(Person, ids[child]), 1, now)  # type: ignore[arg-type]
        # A second parent, created the way the guardians API does, for the under-13 student.
        other = ensure_parent(session, phone=f"+1212{3_000_000 + next(_numbers):07d}",
                              name="Other", locale="es", time_zone=None, now=now)  # fmt: skip
        link_guardian(session, other, session.get(Person, ids["under_13"]), 3, now)  # type: ignore[arg-type]

    runtime.db.run_sync(write)
    if not staff:
        staff += [p for p in cast if p.kind in STAFF]
        return cast
    return cast + staff


def text_for(data: st.DataObject, persona: Persona, channel: str) -> tuple[str, dict[str, Any]]:
    """What the person sends: (text, extra Inbound fields)."""
    offered = persona.offered(channel)
    what = data.draw(st.sampled_from(
        ["answer", "answer", "answer", "command", "staff", "admin", "keyword", "phone",
         "question", "nasty", "text", "button"]))  # fmt: skip
    # The same draws whatever was offered (hypothesis replays need it): an index and a form.
    index, typed = data.draw(st.integers(0, 15)), data.draw(st.booleans())
    if what == "answer" and offered:
        choice = offered[index % len(offered)]
        if channel == "sms":  # typed: the number, or the label
            return (str(index % len(offered) + 1) if typed else choice.label), {}
        return choice.label, {"choice_id": choice.id}
    if what in ("command", "answer"):
        words = sorted(COMMANDS) + sorted(WORDS)
        return words[index * 7 % len(words)] + ("@mentorbot" if typed else ""), {}
    if what == "staff":
        name = data.draw(st.sampled_from(sorted(STAFF_COMMANDS)))
        return name + data.draw(st.sampled_from(["", " 1", " #2", " on", " off", " note text",
                                                 " late"])), {}  # fmt: skip
    if what == "admin":
        name = data.draw(st.sampled_from(sorted(ADMIN_COMMANDS)))
        return name + data.draw(st.sampled_from(["", " 7", " Ana", " edx-1", " -3", " all"])), {}
    if what == "keyword":
        return data.draw(st.sampled_from(KEYWORDS)), {}
    if what == "phone":
        phone = data.draw(st.sampled_from(PHONES))
        if channel == "telegram" and data.draw(st.booleans()):
            return "", {"contact_phone": phone}
        return phone, {}
    if what == "question":
        return data.draw(st.sampled_from(QUESTIONS)), {}
    if what == "nasty":
        return data.draw(st.sampled_from(NASTY)), {}
    if what == "button" and channel != "sms":
        return "", {"choice_id": data.draw(st.sampled_from(CHOICE_IDS))}
    return data.draw(st.text(max_size=80)), {}


def turn_errors(runtime: Runtime) -> int:
    value = runtime.metrics.registry.get_sample_value("mentorbot_turn_errors_total")
    return int(value or 0)


def invalid_conversations(session: Session, person_ids: set[int] | None = None) -> list[str]:
    query = select(Conversation)
    if person_ids is not None:
        query = query.where(Conversation.person_id.in_(person_ids))  # type: ignore[attr-defined]
    found = []
    for row in session.execute(query).scalars():
        flow = FLOWS.get(row.flow)
        offered = row.data.get("offered", [])
        well_formed = isinstance(offered, list) and all(
            isinstance(o, dict) and {"id", "label"} <= set(o) for o in offered)
        problems = [
            flow is None and f"unknown flow {row.flow!r}",
            flow is not None and row.state not in flow.steps and f"undeclared state {row.state!r}",
            row.mode not in ("bot", "human") and f"mode {row.mode!r}",
            not well_formed and "offered malformed",
        ]  # fmt: skip
        found += [f"person {row.person_id} {row.flow}:{row.state}: {p}" for p in problems if p]
    return found


async def run_jobs(runtime: Runtime, tally: Tally) -> None:
    for job_id, _seconds, tick in runtime.ticker.jobs():
        with logged_exceptions() as logged:
            try:
                await tick()
            except Exception as exc:  # the figure, not a crash of the fuzzer
                logged.append(repr(exc))
        tally.raised += [f"job {job_id}: {line}" for line in logged]


async def send(runtime: Runtime, tally: Tally, persona: Persona, channel: str, text: str,
               extra: dict[str, Any]) -> None:  # fmt: skip
    """One message, and what went wrong with it: raised, logged, or apologised for."""
    inbound = Inbound(channel, persona.addresses[channel], f"fz{next(_numbers)}", text, **extra)
    tally.messages += 1
    tally.by_channel[channel] = tally.by_channel.get(channel, 0) + 1
    errors_before = turn_errors(runtime)
    handled = None
    with logged_exceptions() as logged:
        try:
            handled = await runtime.engine.handle(inbound)
            await runtime.dispatcher.deliver(handled.outbound)
        except Exception as exc:
            logged.append(f"raised {exc!r}")
    failed_turns = turn_errors(runtime) - errors_before
    tally.apologies += failed_turns
    what = f"{persona.kind}/{channel} {text[:50]!r} {extra}"
    tally.raised += [f"{what}: {line}" for line in logged]
    if failed_turns and not logged:
        tally.raised.append(f"{what}: the turn failed (apologised for)")
    if handled is not None:
        mine = [o.reply for o in handled.outbound
                if o.channel == channel and o.address == persona.addresses[channel]]  # fmt: skip
        persona.heard.setdefault(channel, []).extend(mine)


async def one_example(runtime: Runtime, tally: Tally, data: st.DataObject) -> None:
    """A script for a new cast. Problems are collected, not raised: the run goes on, and the
    figures and the list of problems come at the end."""
    clock: FakeClock = runtime.clock  # type: ignore[assignment]
    cast = make_cast(runtime, tally.staff)
    for _step in range(STEPS):
        persona = cast[data.draw(st.integers(0, len(cast) - 1))]
        channel = data.draw(st.sampled_from(CHANNELS))
        text, extra = text_for(data, persona, channel)
        await send(runtime, tally, persona, channel, text, extra)
        if data.draw(st.integers(0, 39)) == 0:  # about every other example
            clock.advance(data.draw(st.sampled_from(ADVANCES)))
            await run_jobs(runtime, tally)
    tally.examples += 1
    tally.invalid_states += runtime.db.run_sync(invalid_conversations)


async def settle(runtime: Runtime, tally: Tally) -> tuple[list[str], dict[str, int], list[str],
                                                         dict[str, int]]:  # fmt: skip
    """A day later every job has run and everything due was sent: what is left."""
    clock: FakeClock = runtime.clock  # type: ignore[assignment]
    clock.advance(timedelta(days=1))
    await run_jobs(runtime, tally)
    clock.advance(timedelta(hours=1))
    await runtime.dispatcher.drain(limit=100_000)

    def census(session: Session) -> tuple[list[str], dict[str, int], list[str], dict[str, int]]:
        deliveries = dict(session.execute(
            select(Delivery.status, func.count()).group_by(Delivery.status)).all())  # fmt: skip
        escalations = [s for s in session.execute(select(Escalation.status)).scalars()
                       if s not in ESCALATION_STATUSES]  # fmt: skip
        by_flow = select(Conversation.flow, func.count()).group_by(Conversation.flow)
        flows = dict(session.execute(by_flow).all())
        return invalid_conversations(session), deliveries, escalations, flows

    return runtime.db.run_sync(census)


def test_generated_messages_keep_every_conversation_valid(
    tmp_path: Path, report: Report
) -> None:
    # Its own event loop: hypothesis calls each example synchronously, the engine is async.
    loop = asyncio.new_event_loop()
    senders = {"telegram": RecordingSender("telegram"), "sms": RecordingSender("sms")}
    settings_ = make_settings(f"sqlite:///{tmp_path}/fuzz.sqlite3",
                              admin_telegram_ids=[int(ADMIN_CHAT)])  # fmt: skip
    runtime = build_runtime(settings_, clock=FakeClock(START), senders=senders)  # type: ignore[arg-type]
    tally = Tally()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=not FULL,  # quick: the same inputs every run; full: new ones each time
        suppress_health_check=list(HealthCheck),
        # No shrinking: the database carries on between examples, so a replay is not exact.
        phases=(Phase.explicit, Phase.generate),
    )
    @given(data=st.data())
    def example(data: st.DataObject) -> None:
        loop.run_until_complete(one_example(runtime, tally, data))

    failure: BaseException | None = None
    try:
        try:
            example()
        except BaseException as exc:  # the figures first, then the failure
            failure = exc
        invalid, deliveries, bad_escalations, flows = loop.run_until_complete(
            settle(runtime, tally))
    finally:
        runtime.db.close()
        loop.close()
    unknown = {s: n for s, n in deliveries.items() if s not in RESTING | IN_FLIGHT}
    in_flight = sum(n for s, n in deliveries.items() if s in IN_FLIGHT)
    report("fuzz", messages=tally.messages, examples=tally.examples,
           exceptions=len(tally.raised), failed_turns=tally.apologies,
           invalid_states=len(invalid) + len(tally.invalid_states),
           stuck=in_flight, unknown_statuses=sum(unknown.values()),
           channels="/".join(f"{c}:{tally.by_channel.get(c, 0)}" for c in CHANNELS),
           flows="/".join(f"{f}:{n}" for f, n in sorted(flows.items())))  # fmt: skip
    for problem in sorted(set(tally.raised))[:30]:
        print("  fuzz problem:", problem)
    if failure is not None:
        raise failure
    assert tally.messages >= EXAMPLES * STEPS, "hypothesis ran fewer examples than asked"
    assert not tally.raised and tally.apologies == 0, sorted(set(tally.raised))[:10]
    assert tally.invalid_states == [], tally.invalid_states[:10]
    assert invalid == [] and bad_escalations == [], (invalid[:5], bad_escalations[:5])
    assert unknown == {} and in_flight == 0, deliveries
    assert set(flows) >= {"onboarding", "settings", "main"}, flows


BIG = "99999999999999999999"  # past a 64-bit integer
FOUND = [  # inputs the fuzzer found failing a turn, kept as examples: (persona, text, button)
    ("mentor", f"/take {BIG}", None),
    ("mentor", "/take 2147483648", None),  # past PostgreSQL's 32-bit `integer`
    ("mentor", "", f"take:{BIG}"),
    ("mentor", "", f"pass:{BIG}"),
    ("mentor", "", f"card:{BIG}"),
    ("mentor", "", "card:2147483648"),
]


async def test_what_the_fuzzer_found_gets_an_answer_not_an_apology(database_url: str) -> None:
    """On SQLite and PostgreSQL: each gets an ordinary answer, no failed turn."""
    senders = {"telegram": RecordingSender("telegram"), "sms": RecordingSender("sms")}
    runtime = build_runtime(make_settings(database_url), clock=FakeClock(START),
                            senders=senders)  # type: ignore[arg-type]  # fmt: skip
    try:
        failed = []
        for n, (kind, text, button) in enumerate(FOUND):
            persona = Persona(kind, _addresses(kind))
            runtime.db.run_sync(lambda s, p=persona: _person(s, runtime.clock.now(), p.kind,
                                                             p.addresses))  # fmt: skip
            before = turn_errors(runtime)
            with logged_exceptions() as logged:  # kept, not rendered (rich tracebacks are slow)
                handled = await runtime.engine.handle(Inbound(
                    "webchat", persona.addresses["webchat"], f"found-{n}", text, choice_id=button))
            if turn_errors(runtime) > before or not handled.outbound:
                failed.append((kind, text, button, logged[:1]))
    finally:
        runtime.db.close()
    assert failed == [], f"these turns failed (apologised for): {failed}"
