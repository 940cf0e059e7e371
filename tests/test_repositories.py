"""Repository contract tests: the same assertions on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.messages import Reply
from bot.text import clean_text
from storage import consent, conversations, events, outbox, people
from storage.database import Database
from storage.erasure import erase_person
from storage.tables import ConsentRecord, Delivery, Identity, MessageLog
from storage.upsert import insert_ignore

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def new_person(db: Database, address: str = "42") -> int:
    return db.run_sync(lambda s: people.create_person(s, "telegram", address, NOW).id or 0)


def test_identity_is_unique_per_channel_and_address(db: Database) -> None:
    person = new_person(db)
    assert db.run_sync(lambda s: people.person_by_identity(s, "telegram", "42")).id == person
    with pytest.raises(IntegrityError):
        db.run_sync(
            lambda s: (
                s.add(Identity(person_id=person, channel="telegram", address="42", created_at=NOW))
                or s.flush()
            )
        )
    assert db.run_sync(lambda s: people.link_identity(s, person, "sms", "+14155552671", NOW))
    other = new_person(db, "43")
    # A phone someone else already owns stays theirs (a parent and a student may share one).
    assert not db.run_sync(lambda s: people.link_identity(s, other, "sms", "+14155552671", NOW))


def test_message_log_ignores_a_redelivery(db: Database) -> None:
    row = dict(channel="telegram", external_id="tg:1", direction="in", text="hi", created_at=NOW)
    assert db.run_sync(lambda s: insert_ignore(s, MessageLog.__table__, row)) == 1
    assert db.run_sync(lambda s: insert_ignore(s, MessageLog.__table__, row)) == 0


def test_consent_is_append_only_and_current_is_the_latest(db: Database) -> None:
    person = new_person(db)
    for minutes, decision in ((0, "granted"), (5, "withdrawn"), (9, "granted")):
        db.run_sync(
            lambda s, d=decision, m=minutes: consent.append_consent(
                s,
                person_id=person,
                purpose="coaching",
                decision=d,
                phone="+14155552671",
                channel="sms",
                text_version="v1",
                locale="en",
                source_message_id=f"m{m}",
                now=NOW + timedelta(minutes=m),
            )
        )
    db.run_sync(
        lambda s: consent.append_consent(
            s,
            person_id=person,
            purpose="nudges",
            decision="declined",
            phone=None,
            channel="sms",
            text_version="v1",
            locale="en",
            source_message_id=None,
            now=NOW,
        )
    )
    assert db.run_sync(lambda s: consent.current_consent(s, person)) == {
        "coaching": "granted",
        "nudges": "declined",
    }
    history = db.run_sync(lambda s: consent.consent_history(s, person))
    assert [r.decision for r in history] == ["granted", "withdrawn", "granted", "declined"]


def test_conversation_version_stops_a_lost_update(db: Database) -> None:
    person = new_person(db)
    first = db.run_sync(lambda s: conversations.load_conversation(s, person, NOW))
    assert first.new and first.version == 0

    def save(flow: str, version: int, new: bool) -> None:
        db.run_sync(
            lambda s: conversations.save_conversation(
                s, person, version, flow=flow, state="menu", data={"k": flow}, now=NOW, new=new
            )
        )

    save("settings", 0, True)
    with pytest.raises(conversations.StaleConversation):
        save("main", 0, True)  # a second process creating the same conversation
    save("privacy", 1, False)
    with pytest.raises(conversations.StaleConversation):
        save("main", 1, False)  # saved from a stale read
    saved = db.run_sync(lambda s: conversations.load_conversation(s, person, NOW))
    assert (saved.flow, saved.data, saved.version, saved.new) == (
        "privacy",
        {"k": "privacy"},
        2,
        False,
    )


def test_erasure_keeps_only_the_compliance_minimum(db: Database) -> None:
    person = new_person(db)
    db.run_sync(
        lambda s: consent.append_consent(
            s,
            person_id=person,
            purpose="coaching",
            decision="granted",
            phone="+14155552671",
            channel="telegram",
            text_version="v1",
            locale="en",
            source_message_id="m1",
            now=NOW,
        )
    )

    assert db.run_sync(lambda s: erase_person(s, person, NOW)) is True
    assert db.run_sync(lambda s: erase_person(s, person, NOW)) is False  # once is enough
    assert db.run_sync(lambda s: people.person_by_identity(s, "telegram", "42")) is None
    kept = db.run_sync(lambda s: consent.consent_history(s, person))
    assert kept == []  # no longer tied to the person
    [record] = db.run_sync(lambda s: list(s.execute(select(ConsentRecord)).scalars()))
    assert (record.person_id, record.phone_e164, record.channel, record.locale) == (
        None,
        None,
        None,
        None,
    )
    assert record.phone_hash and record.decision == "granted" and record.created_at == NOW
    assert record.text_version == "v1"  # what the person agreed to stays provable


def test_events_are_stored_once_per_event_id(db: Database) -> None:
    person = new_person(db)
    batch = [
        dict(
            event_id=f"e{i}",
            person_id=person,
            type="login",
            occurred_at=NOW,
            payload={},
            created_at=NOW,
        )
        for i in range(3)
    ]
    assert db.run_sync(lambda s: events.record_events(s, batch)) == 3
    assert db.run_sync(lambda s: events.record_events(s, batch)) == 0
    found = db.run_sync(lambda s: events.events_between(s, person, NOW, NOW + timedelta(1)))
    assert [e.event_id for e in found] == ["e0", "e1", "e2"]


def test_text_that_postgresql_would_refuse_is_cleaned_before_storage(db: Database) -> None:
    text = clean_text("a\x00b\ud800c")
    row = dict(channel="webchat", external_id="w1", direction="in", text=text, created_at=NOW)
    assert db.run_sync(lambda s: insert_ignore(s, MessageLog.__table__, row)) == 1


def test_many_sends_are_recorded_at_once_without_moving_a_row_back(db: Database) -> None:
    replies = [Reply(f"m{i}") for i in range(4)]
    ids = [
        o.delivery_id
        for o in db.run_sync(
            lambda s: outbox.add_replies(
                s, person_id=None, channel="sms", address="+14155552671", replies=replies, now=NOW
            )
        )
    ]
    # A status callback got there first for one of them.
    db.run_sync(lambda s: outbox.mark_failed(s, ids[1], NOW, "30006", "undelivered"))
    db.run_sync(lambda s: outbox.mark_sent_many(s, [(i, f"SM{i}", False) for i in ids], NOW))
    rows = db.run_sync(
        lambda s: {d.id: (d.status, d.external_id) for d in s.execute(select(Delivery)).scalars()}
    )
    assert rows == {
        ids[0]: ("sent", f"SM{ids[0]}"),
        ids[1]: ("undelivered", f"SM{ids[1]}"),
        ids[2]: ("sent", f"SM{ids[2]}"),
        ids[3]: ("sent", f"SM{ids[3]}"),
    }
