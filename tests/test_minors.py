"""Students under 13: `under_13` or a birth date from the import and the API (the date is never
stored), and a child is never asked for a phone or about study reminders (a parent decides)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlmodel import Session
from typer.testing import CliRunner

from bot.app import Runtime, build_runtime
from bot.cli import cli
from bot.clock import FakeClock
from bot.web import create_web_app
from storage.consent import append_consent
from storage.database import Database
from storage.ingest import ingest_students
from storage.tables import ConsentRecord, Person
from tests.conftest import START, make_settings
from tests.transcript import add_student

AUTH = {"Authorization": "Bearer t0ken-for-tests"}
# START is 2026-11-23 (15:00 UTC): a child born on 2013-11-23 turns 13 today.
TURNS_13_TODAY, TURNS_13_TOMORROW = "2013-11-23", "2013-11-24"


def row(lms_id: str, **fields: Any) -> dict[str, Any]:
    return {"lms_id": lms_id, "name": f"Student {lms_id}", **fields}


def under_13(db: Database) -> dict[str, bool]:
    query = select(Person.lms_id, Person.under_13).where(Person.role == "student")
    return {lms: flag for lms, flag in db.run_sync(lambda s: s.execute(query).all())}


def ingest(db: Database, rows: list[dict[str, Any]]) -> Any:
    return db.run_sync(lambda s: ingest_students(s, rows, START))


def test_under_13_or_a_birth_date_sets_the_flag(db: Database) -> None:
    outcome = ingest(db, [
        row("a", under_13=True),
        row("b", under_13="false"),
        row("c", birth_date=TURNS_13_TOMORROW),
        row("d", birth_date=TURNS_13_TODAY),
        row("e", birth_date="2016-02-29", under_13=True),  # a pair that agrees
        # 05:00 on the 24th in Kiribati: this child turned 13 there already.
        row("f", birth_date=TURNS_13_TOMORROW, time_zone="Pacific/Kiritimati"),
        row("g"),  # says nothing: a new student is not under 13
    ])  # fmt: skip
    assert (outcome.stored, outcome.rejected) == (7, [])
    assert under_13(db) == {
        "a": True, "b": False, "c": True, "d": False, "e": True, "f": False, "g": False,
    }  # fmt: skip


def test_the_birth_date_is_never_stored(db: Database) -> None:
    ingest(db, [row("kid", birth_date="2015-04-02", locale="es")])

    def every_value(session: Session) -> list[Any]:
        person = session.execute(select(Person).where(Person.lms_id == "kid")).scalar_one()
        return [getattr(person, column.name) for column in Person.__table__.columns]

    values = db.run_sync(every_value)
    assert not any(isinstance(v, date) and v.year == 2015 for v in values)
    assert not any("2015" in str(v) for v in values)
    assert not hasattr(Person, "birth_date")


@pytest.mark.parametrize(
    "fields,reason",
    [
        ({"birth_date": "2014-02-30"}, "birth_date: not a valid date"),
        ({"birth_date": "02/03/2014"}, "birth_date: not a valid date"),
        ({"birth_date": 20140203}, "birth_date: not a valid date"),
        ({"birth_date": "2027-01-01"}, "birth_date: is in the future"),
        ({"birth_date": "1850-01-01"}, "birth_date: is before 1900"),
        ({"birth_date": "2015-04-02", "under_13": False}, "under_13 is false but birth_date"),
        ({"birth_date": "2000-04-02", "under_13": "yes"}, "under_13 is true but birth_date"),
        ({"under_13": "maybe"}, "under_13:"),
    ],
)
def test_a_bad_birth_date_or_pair_is_a_clear_rejection(
    db: Database, fields: dict[str, Any], reason: str
) -> None:
    outcome = ingest(db, [row("ok", under_13=True), row("bad", **fields)])
    assert outcome.stored == 1
    [rejected] = outcome.rejected
    assert (rejected["index"], rejected["id"]) == (1, "bad")
    assert any(r.startswith(reason) for r in rejected["reasons"]), rejected["reasons"]
    assert all("2014-02" not in r and "2015" not in r for r in rejected["reasons"])
    assert under_13(db) == {"ok": True}


def test_a_re_import_updates_the_flag_and_silence_keeps_it(db: Database) -> None:
    ingest(db, [row("a", under_13=True), row("b", birth_date="2016-05-01")])
    ingest(db, [row("a", program="microbachelors-it"), row("b")])  # nothing about age
    assert under_13(db) == {"a": True, "b": True}
    ingest(db, [row("a", under_13=False), row("b", birth_date="2010-05-01")])  # corrected
    assert under_13(db) == {"a": False, "b": False}
    ingest(db, [row("a", birth_date=TURNS_13_TOMORROW)])
    assert under_13(db) == {"a": True, "b": False}


# -- The API -----------------------------------------------------------------------------------


@pytest.fixture
def api(database_url: str) -> Iterator[tuple[TestClient, Runtime]]:
    settings = make_settings(database_url, api_token="t0ken-for-tests")
    runtime = build_runtime(settings, clock=FakeClock(START))
    yield TestClient(create_web_app(runtime)), runtime
    runtime.db.close()


def test_the_students_api_takes_the_import_rows(api: tuple[TestClient, Runtime]) -> None:
    client, runtime = api
    batch = {"students": [
        row("mia", birth_date="2015-04-02", time_zone="America/New_York"),
        row("sam", under_13=False),
        row("bad", birth_date="2015-13-01"),
        row("odd", birth_date="2015-04-02", under_13=False),
        {"name": "no id"},
    ]}  # fmt: skip
    assert client.post("/api/v1/students", json=batch).status_code == 401
    wrong = {"Authorization": "Bearer wrong"}
    assert client.post("/api/v1/students", json=batch, headers=wrong).status_code == 401
    answer = client.post("/api/v1/students", json=batch, headers=AUTH)
    assert answer.status_code == 200
    body = answer.json()
    assert body["stored"] == 2
    rejected = sorted((r["index"], r["id"]) for r in body["rejected"])
    assert rejected == [(2, "bad"), (3, "odd"), (4, None)]
    assert under_13(runtime.db) == {"mia": True, "sam": False}
    again = client.post("/api/v1/students", json={"students": [row("mia", under_13=False)]},
                        headers=AUTH)  # fmt: skip
    assert again.json() == {"stored": 1, "rejected": []}
    assert under_13(runtime.db)["mia"] is False


def test_the_students_api_refuses_bad_bodies(api: tuple[TestClient, Runtime]) -> None:
    client, _runtime = api
    assert client.post("/api/v1/students", json={"rows": []}, headers=AUTH).status_code == 422
    many = {"students": [row(str(i)) for i in range(1_001)]}
    assert client.post("/api/v1/students", json=many, headers=AUTH).status_code == 413


def test_the_csv_import_takes_under_13_and_birth_dates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path}/i.sqlite3"
    monkeypatch.setenv("MENTORBOT_DATABASE_URL", url)
    (tmp_path / "s.csv").write_text(
        "lms_id,name,program,track,under_13,birth_date\n"
        "s1,Mia Chen,cs,verified,,2019-06-01\n"
        "s2,Ana Lopez,cs,verified,false,\n"
        "s3,Leo Park,cs,verified,true,\n"
        "s4,Bo Li,cs,verified,false,2019-06-01\n"
        "s5,Cy Ng,cs,verified,,1st of May\n"
    )
    result = CliRunner().invoke(cli, ["import", "students", str(tmp_path / "s.csv")])
    assert result.exit_code == 1 and "Stored 3" in result.output and "rejected 2" in result.output
    assert "under_13 is false but birth_date says true" in result.output
    assert "not a valid date" in result.output and "2019" not in result.output
    runtime = build_runtime(make_settings(url), clock=FakeClock(START))
    assert under_13(runtime.db) == {"s1": True, "s2": False, "s3": True}
    runtime.db.close()


# -- A child in the conversation ----------------------------------------------------------------


@pytest.fixture
def runtime(sqlite_url: str, clock: FakeClock) -> Iterator[Runtime]:
    rt = build_runtime(make_settings(sqlite_url), clock=clock)
    yield rt
    rt.db.close()


@pytest.mark.parametrize("eligible", [True, False])
async def test_a_child_is_never_asked_for_a_phone_or_about_reminders(
    runtime: Runtime, eligible: bool
) -> None:
    mia = add_student(runtime, "Mia", under_13=True, eligible=eligible, channel="telegram")
    for text in ("/start", "hi", "i cant log in to my course", "/coaching", "415 555 2671"):
        await mia.says(text)
    menu = await mia.says("/settings")
    assert not any(r.request_phone for r in mia.heard)
    assert not any("study reminders?" in t or "Do you agree" in t for t in mia.texts())
    assert "Phone" not in menu[0].text and "Study reminders: off" in menu[0].text
    assert "Only a parent can turn study reminders on." in menu[0].text
    assert {c.id for c in menu[0].choices} == {"parents", "language", "done"}
    forged = await mia.says("Change phone", choice="phone")  # a button never offered
    assert "no longer active" in forged[0].text
    typed = await mia.says("change phone")  # typed, not offered: the menu stays as it was
    assert "Your settings" in typed[-1].text and "phone" not in {c.id for c in typed[-1].choices}
    assert not any(r.request_phone for r in mia.heard)
    records = runtime.db.run_sync(lambda s: s.execute(select(ConsentRecord)).all())
    person = runtime.db.run_sync(lambda s: s.execute(select(Person)).scalar_one())
    assert records == [] and person.phone_e164 is None


async def test_a_child_may_turn_reminders_a_parent_allowed_off_but_not_on(
    runtime: Runtime,
) -> None:
    mia = add_student(runtime, "Mia", under_13=True, eligible=False)
    mia_id = runtime.db.run_sync(lambda s: s.execute(select(Person.id)).scalar_one())
    runtime.db.run_sync(lambda s: append_consent(
        s, person_id=mia_id, purpose="nudges", decision="granted", phone=None, channel="sms",
        text_version="nudges-2026-11", locale="en", source_message_id=None, now=START,
        actor="parent:99"))  # fmt: skip
    menu = await mia.says("/settings")
    assert "Study reminders: on" in menu[0].text
    off = await mia.picks("Turn reminders off")
    assert "Study reminders: off" in off[-1].text
    assert all(c.id != "reminders" for c in off[-1].choices)  # only a parent turns them on
    decisions = runtime.db.run_sync(
        lambda s: s.execute(select(ConsentRecord.decision, ConsentRecord.actor)).all()
    )
    assert [tuple(d) for d in decisions] == [("granted", "parent:99"), ("withdrawn", "self")]


async def test_a_student_marked_under_13_later_is_not_offered_a_phone(runtime: Runtime) -> None:
    ana = add_student(runtime, "Ana")
    await ana.says("hi")
    runtime.db.run_sync(lambda s: s.execute(update(Person).values(under_13=True)))
    replies = await ana.says("415 555 2671")  # the phone step was pending; not any more
    assert not any("Do you agree" in r.text for r in replies)
    menu = await ana.says("/settings")
    assert "Phone" not in menu[0].text
