"""Erasure that cannot fall behind the schema, the export, and retention (SQLite and PostgreSQL).

The erasure test walks every table and every text or JSON column in the metadata. A new table
fails it until the test knows it: either the scenario puts the person's data in it (and erasure
must then remove it), or it is declared free of personal text below, with the reason.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import JSON, String, select
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString

from bot.app import Runtime, build_runtime
from bot.clock import FakeClock
from bot.messages import Inbound
from bot.web import create_web_app
from handlers.phones import phone_hash
from storage import retention
from storage import sms as sms_store
from storage.ingest import ingest_events
from storage.tables import (
    Badge,
    ConsentRecord,
    Delivery,
    Escalation,
    Guardian,
    Identity,
    Invitation,
    LearningEvent,
    MessageLog,
    OptOut,
    Person,
    SmsInbox,
    StudentLink,
)
from tests.conftest import make_settings
from tests.test_mentors import add_mentor
from tests.transcript import Chatter

NAME, CHAT, WEB, PHONE = "Zephyrine Quillfeather", "987654321", "web-zq-7f3a", "+12025550147"
WORDS = ("marmalade", "xylophone", "quokka", "trampoline")
NEEDLES = (
    "zephyrine", "quillfeather", CHAT, WEB, *WORDS,
    PHONE, PHONE[1:], PHONE[2:], "202 555 0147", "(202) 555-0147", "202-555-0147",
)  # fmt: skip
# Tables whose text columns hold nothing about a person, and why.
NO_PERSONAL_TEXT = {
    "sms_status_event": "Twilio's message id and status only",
    "mentor_profile": "a mentor's languages and working hours (the row goes with the mentor)",
    "knowledge_answer": "which approved entry was sent, the locale and the channel",
    "student_link": "the hash of a random token",
    "rate_limit": "counters keyed by a hash of the chat id, never the id itself",
    "send_slot": "send-rate keys: a channel, a sender number or a hash of a chat id",
    "conversation": "flow, state and offered choice ids (the row goes with the person)",
    "audit_record": "who (an id), what and parameters: ids and settings, never names or texts",
    "campaign_state": "a campaign id and whether it is paused",
    "broadcast": "a template id and a segment (a program, cohort, grade, language or persona)",
    "study_plan": "activity kinds, days and hours of a weekly plan (the rows go with the person)",
    "badge": "a badge's id and when it was earned (the rows go with the person)",
}
# Columns that may still point at the erased person's (blanked) row: pseudonymous statistics.
KEPT_REFERENCES = {
    ("delivery", "person_id"),
    ("learning_event", "person_id"),
    ("audit_record", "actor_id"),  # the trail stays whole; the id points at an emptied row
    ("campaign_state", "updated_by"),
    ("broadcast", "created_by"),
}
TOKEN = "test-api-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def runtime(database_url: str, clock: FakeClock) -> Iterator[Runtime]:
    rt = build_runtime(make_settings(database_url, api_token=TOKEN), clock=clock)
    yield rt
    rt.db.close()


def _is_text(column: Any) -> bool:
    return isinstance(column.type, String | JSON | AutoString)


def _text_columns() -> dict[str, list[Any]]:
    return {
        table.name: [c for c in table.columns if _is_text(c)]
        for table in SQLModel.metadata.sorted_tables
    }


def _needles_by_table(runtime: Runtime) -> dict[str, set[str]]:
    """For every table: which needles any of its text or JSON values contains."""

    def scan(session: Any) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for table, columns in _text_columns().items():
            hits = found.setdefault(table, set())
            for values in session.execute(select(*columns)) if columns else ():
                blob = " ".join(
                    v if isinstance(v, str) else json.dumps(v) for v in values if v is not None
                ).lower()
                hits.update(n for n in NEEDLES if n in blob)
        return found

    return runtime.db.run_sync(scan)


def _references_to(runtime: Runtime, person_id: int) -> set[tuple[str, str]]:
    """Every (table, column) with a foreign key to person.id that still names the person."""

    def scan(session: Any) -> set[tuple[str, str]]:
        found = set()
        for table in SQLModel.metadata.sorted_tables:
            for column in table.columns:
                targets = {fk.target_fullname for fk in column.foreign_keys}
                if "person.id" in targets and session.execute(
                    select(column).where(column == person_id).limit(1)
                ).first():
                    found.add((table.name, column.name))
        return found

    return runtime.db.run_sync(scan)


async def _live_a_little(runtime: Runtime) -> tuple[int, Chatter]:
    """The person's data in every table that can hold it, through the real engine."""
    mentor = add_mentor(runtime, "Orla Byrne", languages=["en"])
    tg = Chatter(runtime, "telegram", CHAT)
    await tg.says("hi", external_id="tg:1")
    now = runtime.clock.now()

    def profile(session: Any) -> int:
        person = session.execute(select(Person).where(Person.role == "student")).scalars().one()
        person.display_name, person.lms_id = NAME, "lms-zq"
        person.track, person.program = "verified", "microbachelors-cs"
        person.last_active_at = now - timedelta(days=1)
        session.add(Identity(person_id=person.id, channel="webchat", address=WEB, created_at=now))
        return int(person.id)

    pid = runtime.db.run_sync(profile)
    await tg.says("/start", external_id="tg:2")
    await tg.says("202 555 0147", external_id="tg:3")
    await tg.picks("yes")  # coaching consent with the phone: an SMS identity too
    web = Chatter(runtime, "webchat", WEB)
    await web.says(f"my {WORDS[0]} {WORDS[1]} is broken")
    await _goals_and_plan(web)
    await web.says("I want to talk to a human")
    [escalation] = runtime.db.run_sync(lambda s: list(s.execute(select(Escalation)).scalars()))
    await mentor.says("Take", choice=f"take:{escalation.id}")
    await web.says(f"the {WORDS[2]} on the {WORDS[3]}")  # relayed to the mentor
    await mentor.says("Hi Zephyrine, tell me more")  # relayed to the student
    await mentor.says("/note Zephyrine is worried about the quokka")
    await mentor.says("/mine")
    await mentor.says("/release")
    runtime.db.run_sync(lambda s: _around_the_edges(s, pid, now))
    return pid, web


async def _goals_and_plan(web: Chatter) -> None:
    """A goal in the student's own words, a plan accepted, a plan day chosen."""
    await web.says("/goals")
    await web.picks("own")
    await web.says(f"teach the {WORDS[2]} to juggle")
    await web.says("/plan")
    await web.picks("accept")
    await web.picks("day")
    await web.picks("weekday:3")


def _around_the_edges(session: Any, pid: int, now: Any) -> None:
    """What arrives from other systems: the LMS, Twilio, a parent, a link, a limiter."""
    ingest_events(session, [{"id": "ev-zq-1", "student": "lms-zq", "type": "login",
                             "occurred_at": now.isoformat(),
                             "payload": {"note": f"{NAME} said {WORDS[0]}"}}], now)  # fmt: skip
    sms_store.store_inbound(session, "SMzq1", PHONE, "+15005550006", f"{WORDS[1]} by text", now)
    sms_store.opt_out(session, PHONE, now, source="sms_keyword")
    parent = Person(role="parent", display_name="Pat Quill", phone_e164="+12025550199",
                    created_at=now)  # fmt: skip
    session.add(parent)
    session.flush()
    session.add(Guardian(parent_id=parent.id, student_id=pid, created_at=now))
    session.add(Delivery(person_id=parent.id, channel="sms", address="+12025550199",
                         kind="digest", text="Zephyrine attended 3 classes this week.",
                         status="sent", due_at=now, meta={"student_id": pid},
                         created_at=now, updated_at=now))  # fmt: skip
    session.add(Badge(person_id=pid, badge="first_goal", earned_at=now))
    session.add(StudentLink(token_hash="f" * 64, person_id=pid, created_at=now,
                            expires_at=now + timedelta(days=7)))  # fmt: skip
    session.add(Invitation(token_hash="e" * 64, role="mentor", name=NAME, created_at=now,
                           expires_at=now, used_at=now, used_by=pid))  # fmt: skip


def _assert_schema_known(before: dict[str, set[str]]) -> None:
    with_text = {t for t, columns in _text_columns().items() if columns}
    exercised = {t for t, hits in before.items() if hits}
    unknown = with_text - exercised - set(NO_PERSONAL_TEXT)
    assert not unknown, (
        f"tables {sorted(unknown)} hold text but the erasure scenario puts nothing in them: "
        "make the scenario write the person's data there (and erasure remove it), or add "
        "them to NO_PERSONAL_TEXT with the reason"
    )
    assert exercised.isdisjoint(NO_PERSONAL_TEXT), "a table said to hold no personal text does"


async def _erase_in_chat(runtime: Runtime, pid: int, web: Chatter) -> None:
    await web.says("/forgetme")
    [choice] = [c for c in web.last().choices if c.id == "yes"]
    inbound = Inbound("webchat", WEB, "web-last", choice.label, choice_id="yes")
    handled = await runtime.engine.handle(inbound)
    assert "erased" in handled.outbound[0].reply.text
    await runtime.dispatcher.deliver(handled.outbound)  # the goodbye goes out, then is blanked


def _erase_by_api(runtime: Runtime, pid: int, web: Chatter) -> None:
    client = TestClient(create_web_app(runtime))
    assert client.delete(f"/api/v1/people/{pid}").status_code == 401
    assert client.delete(f"/api/v1/people/{pid}", headers=AUTH).status_code == 204
    assert client.delete(f"/api/v1/people/{pid}", headers=AUTH).status_code == 404


@pytest.mark.parametrize("how", ["chat", "api"])
async def test_erasure_leaves_nothing_in_any_table(runtime: Runtime, how: str) -> None:
    pid, web = await _live_a_little(runtime)
    before = _needles_by_table(runtime)
    _assert_schema_known(before)
    if how == "chat":
        await _erase_in_chat(runtime, pid, web)
    else:
        _erase_by_api(runtime, pid, web)
    after = {table: hits for table, hits in _needles_by_table(runtime).items() if hits}
    assert after == {}
    assert _references_to(runtime, pid) <= KEPT_REFERENCES
    # The proof of consent stays, without the phone; the number stays opted out, by its hash.
    [proof] = runtime.db.run_sync(lambda s: list(s.execute(select(ConsentRecord)).scalars()))
    assert (proof.purpose, proof.decision, proof.phone_hash) == (
        "coaching", "granted", phone_hash(PHONE))
    assert proof.text_version and proof.created_at
    opt_outs = runtime.db.run_sync(lambda s: [o.phone_e164 for o in s.execute(select(OptOut))
                                              .scalars()])  # fmt: skip
    assert opt_outs == [phone_hash(PHONE)]
    events = runtime.db.run_sync(lambda s: list(s.execute(select(LearningEvent)).scalars()))
    assert [(e.person_id, e.type, e.payload) for e in events] == [(pid, "login", {})]


async def test_export_lists_everything_in_the_persons_language(runtime: Runtime) -> None:
    pid, web = await _live_a_little(runtime)
    client = TestClient(create_web_app(runtime))
    assert client.get(f"/api/v1/people/{pid}/export").status_code == 401
    held = client.get(f"/api/v1/people/{pid}/export", headers=AUTH).json()
    assert held["profile"]["display_name"] == NAME and held["profile"]["phone_e164"] == PHONE
    assert {c["channel"] for c in held["channels"]} == {"telegram", "webchat", "sms"}
    assert any(WORDS[2] in (m["text"] or "") for m in held["messages"])
    assert [(c["purpose"], c["decision"]) for c in held["consents"]] == [("coaching", "granted")]
    assert [e["payload"] for e in held["learning_events"]] == [{"note": f"{NAME} said marmalade"}]
    assert [g["name"] for g in held["guardians"]] == ["Pat Quill"]
    assert held["escalations"][0]["status"] == "released"
    assert held["mentor_notes"][0]["text"].endswith("worried about the quokka")
    assert held["opt_outs"][0]["phone_e164"] == PHONE
    goals = [(g["kind"], g["text"]) for g in held["goals"]]
    assert goals == [("own", f"teach the {WORDS[2]} to juggle")]
    assert held["plans"][0]["status"] == "accepted" and held["plans"][-1] == {"plan_weekday": 3}
    assert [b["badge"] for b in held["badges"]] == ["first_goal"]
    assert client.get("/api/v1/people/999999/export", headers=AUTH).status_code == 404
    # In the chat: the same data, summarised in Spanish, with the file attached.
    runtime.db.run_sync(lambda s: setattr(s.get(Person, pid), "locale", "es"))
    [answer] = await web.says("/mydata")
    assert "Esto es lo que guardamos" in answer.text
    assert "coaching por mensajes de texto, aceptado" in answer.text
    assert answer.attachment is not None and answer.attachment.name == "mydata.json"
    assert json.loads(answer.attachment.data)["profile"]["display_name"] == NAME
    sms = Chatter(runtime, "sms", PHONE)
    [by_text] = [r for r in await sms.says("/mydata") if "Esto es" in r.text]
    assert by_text.attachment is None  # SMS cannot carry the file; the text says where to get it


async def test_retention_purges_old_texts_and_keeps_consent(
    runtime: Runtime, clock: FakeClock
) -> None:
    pid, web = await _live_a_little(runtime)
    keep = runtime.settings.retention

    def purge_all(session: Any) -> retention.Purged:
        total = retention.Purged()
        while (batch := retention.purge(session, clock.now(), message_days=keep.message_days,
                                        consent_years=keep.consent_years)).total:  # fmt: skip
            total = retention.Purged(*(a + b for a, b in zip(
                (total.messages, total.deliveries, total.inbox, total.consents),
                (batch.messages, batch.deliveries, batch.inbox, batch.consents), strict=True)))
        return total

    assert runtime.db.run_sync(purge_all).total == 0  # nothing is old yet
    clock.advance(timedelta(days=keep.message_days + 1))
    await web.says(f"a fresh {WORDS[0]}")  # new today: kept
    runtime.db.run_sync(lambda s: sms_store.mark_processed(s, "SMzq1", clock.now()))
    purged = runtime.db.run_sync(purge_all)
    assert purged.messages > 0 and purged.deliveries > 0 and purged.inbox == 1
    texts = runtime.db.run_sync(lambda s: [m.text for m in s.execute(
        select(MessageLog).where(MessageLog.text.is_not(None))).scalars()])  # fmt: skip
    assert texts == [f"a fresh {WORDS[0]}"]
    assert runtime.db.run_sync(lambda s: s.execute(select(SmsInbox)).first()) is None
    assert purged.consents == 0
    assert len(runtime.db.run_sync(lambda s: list(s.execute(select(ConsentRecord))))) == 1
    # Proof left by an erasure goes only after the consent years.
    await _erase_in_chat(runtime, pid, web)
    clock.advance(timedelta(days=365 * 3))
    assert runtime.db.run_sync(purge_all).consents == 0
    clock.advance(timedelta(days=366 + 2))
    assert runtime.db.run_sync(purge_all).consents == 1
