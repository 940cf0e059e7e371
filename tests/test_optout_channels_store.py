"""Opt-out state in the database, on SQLite and PostgreSQL: a chat's STOP and PAUSE on its
identity, a number's opt-out found by the number or by its hash, and the facts the send-time
policy reads for every delivery."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from bot.messages import Reply
from handlers.phones import phone_hash
from scheduler.policy import Decision, SendPolicy
from storage import chat_opt_outs, claims, people
from storage import sms as sms_store
from storage.database import Database
from storage.outbox import add_replies
from storage.tables import Delivery, OptOut, Person

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # 10:00 in New York: inside the window
POLICY = SendPolicy(fallback_zone="America/New_York")
PHONE = "+12125550142"
CHAT = "4242"


def person(db: Database, channel: str, address: str, **fields: Any) -> int:
    def write(session: Session) -> int:
        row = Person(created_at=NOW, time_zone="America/New_York", **fields)
        session.add(row)
        session.flush()
        people.link_identity(session, row.id or 0, channel, address, NOW)
        return row.id or 0

    return db.run_sync(write)


def queue(db: Database, channel: str, address: str, kind: str, who: int | None) -> int:
    def write(session: Session) -> int:
        [out] = add_replies(session, person_id=who, channel=channel, address=address,
                            replies=[Reply(f"a {kind}")], now=NOW, kind=kind)  # fmt: skip
        return out.delivery_id

    return db.run_sync(write)


def judged(db: Database, *ids: int) -> list[tuple[Decision, str]]:
    def judge(session: Session) -> list[tuple[Decision, str]]:
        query = select(Delivery).where(Delivery.id.in_(ids))  # type: ignore[union-attr]
        rows = list(session.execute(query).scalars())
        facts = claims.facts_for(session, rows, NOW)
        found = {r.id: POLICY.verdict(facts[r.id or 0], NOW) for r in rows}
        return [(found[i].decision, found[i].reason) for i in ids]

    return db.run_sync(judge)


def status(db: Database, delivery_id: int) -> str:
    return db.run_sync(lambda s: s.get(Delivery, delivery_id).status)  # type: ignore[union-attr]


def test_a_chats_stop_cancels_waiting_nudges_and_suppresses_new_ones(db: Database) -> None:
    ana = person(db, "telegram", CHAT)
    waiting, answer = (queue(db, "telegram", CHAT, k, ana) for k in ("nudge", "reply"))
    cancelled = db.run_sync(lambda s: chat_opt_outs.opt_out_chat(s, "telegram", CHAT, NOW))
    assert cancelled == 1
    assert (status(db, waiting), status(db, answer)) == ("cancelled", "pending")
    later = [queue(db, "telegram", CHAT, k, ana) for k in ("nudge", "broadcast", "reply")]
    assert judged(db, *later) == [
        (Decision.SUPPRESS, "opted_out"),
        (Decision.SUPPRESS, "opted_out"),
        (Decision.SEND, ""),
    ]
    db.run_sync(lambda s: chat_opt_outs.opt_in_chat(s, "telegram", CHAT))
    assert judged(db, queue(db, "telegram", CHAT, "nudge", ana)) == [(Decision.SEND, "")]


def test_a_chats_stop_is_that_chats_alone(db: Database) -> None:
    ana = person(db, "telegram", CHAT)
    db.run_sync(lambda s: people.link_identity(s, ana, "sms", PHONE, NOW))
    db.run_sync(lambda s: chat_opt_outs.opt_out_chat(s, "telegram", CHAT, NOW))
    assert judged(db, queue(db, "sms", PHONE, "nudge", ana)) == [(Decision.SEND, "")]


def test_a_chats_pause_and_start_after_it(db: Database) -> None:
    ana = person(db, "webchat", "web-abc12345")
    until = db.run_sync(lambda s: chat_opt_outs.pause_chat(s, "webchat", "web-abc12345", NOW, 14))
    assert until == NOW + timedelta(days=14)
    state = db.run_sync(lambda s: chat_opt_outs.chat_state(s, "webchat", "web-abc12345"))
    assert state is not None and state.paused_until == until and not state.opted_out
    nudge, answer = (queue(db, "webchat", "web-abc12345", k, ana) for k in ("nudge", "reply"))
    assert judged(db, nudge, answer) == [(Decision.SUPPRESS, "paused"), (Decision.SEND, "")]
    db.run_sync(lambda s: chat_opt_outs.opt_in_chat(s, "webchat", "web-abc12345"))
    state = db.run_sync(lambda s: chat_opt_outs.chat_state(s, "webchat", "web-abc12345"))
    assert state is not None and state.paused_until is None
    assert judged(db, queue(db, "webchat", "web-abc12345", "nudge", ana)) == [(Decision.SEND, "")]


def test_no_sms_to_an_under_13_student_but_their_parent_is_texted(db: Database) -> None:
    child = person(db, "sms", PHONE, role="student", under_13=True)
    parent = person(db, "sms", "+12125550143", role="parent")
    db.run_sync(lambda s: people.link_identity(s, child, "telegram", CHAT, NOW))
    texts = [queue(db, "sms", PHONE, k, child) for k in ("nudge", "reply", "compliance")]
    assert judged(db, *texts) == [(Decision.SUPPRESS, "under_13")] * 3
    assert judged(db, queue(db, "sms", PHONE, "safety", child)) == [(Decision.SEND, "")]
    assert judged(db, queue(db, "telegram", CHAT, "nudge", child)) == [(Decision.SEND, "")]
    assert judged(db, queue(db, "sms", "+12125550143", "digest", parent)) == [(Decision.SEND, "")]


def test_an_opt_out_kept_by_the_hash_still_suppresses_the_number(db: Database) -> None:
    """Erasure re-keys the opt-out of a number nobody holds by the number's hash."""
    hashed = phone_hash(PHONE)
    assert len(hashed) == 64
    db.run_sync(lambda s: s.add(OptOut(phone_e164=hashed, source="sms_keyword", updated_at=NOW)))
    broadcast = queue(db, "sms", PHONE, "broadcast", None)
    assert judged(db, broadcast) == [(Decision.SUPPRESS, "opted_out")]
    assert db.run_sync(lambda s: sms_store.is_opted_out(s, PHONE))
    assert db.run_sync(lambda s: sms_store.opt_outs_for(s, [PHONE, "+12125550199"])).keys() == {
        PHONE
    }


def test_writing_to_a_hashed_opt_out_moves_it_back_under_the_number(db: Database) -> None:
    hashed = phone_hash(PHONE)
    until = NOW + timedelta(days=3)
    db.run_sync(lambda s: s.add(OptOut(phone_e164=hashed, opted_out=False, paused_until=until,
                                       source="sms_pause", updated_at=NOW)))  # fmt: skip
    db.run_sync(lambda s: sms_store.opt_out(s, PHONE, NOW, source="sms_keyword"))
    rows = db.run_sync(lambda s: list(s.execute(select(OptOut)).scalars()))
    assert [(r.phone_e164, r.opted_out, r.paused_until) for r in rows] == [(PHONE, True, until)]
    db.run_sync(lambda s: sms_store.opt_in(s, PHONE, NOW, source="sms_keyword"))
    assert not db.run_sync(lambda s: sms_store.is_opted_out(s, PHONE))


def test_the_latest_of_two_rows_for_one_number_decides(db: Database) -> None:
    earlier, later = NOW - timedelta(days=1), NOW
    db.run_sync(lambda s: s.add_all([
        OptOut(phone_e164=PHONE, opted_out=False, source="sms_keyword", updated_at=earlier),
        OptOut(phone_e164=phone_hash(PHONE), opted_out=True, source="import", updated_at=later),
    ]))  # fmt: skip
    assert db.run_sync(lambda s: sms_store.is_opted_out(s, PHONE))
