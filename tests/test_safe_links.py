"""Safe links from the command line and through the engine: `mentorbot telegram-link` prints a
new single-use link on every call; an invitation with an LMS id moves that person's one chat
(the former chat is told); a slowed chat's invitation is refused without being used up."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from bot.app import Runtime, build_runtime
from bot.cli import cli
from bot.clock import FakeClock
from bot.messages import Inbound, Outbound
from storage import mentors as mentor_store
from storage.tables import Identity, Invitation, Person, StudentLink
from tests.conftest import START, make_settings
from tests.transcript import add_student


def _enrol(url: str, lms_id: str) -> None:
    runtime = build_runtime(make_settings(url), clock=FakeClock(START))
    runtime.db.run_sync(
        lambda s: s.add(Person(display_name="Ana", lms_id=lms_id, created_at=START))
    )
    runtime.db.close()


def _links(url: str) -> list[StudentLink]:
    runtime = build_runtime(make_settings(url), clock=FakeClock(START))
    rows = runtime.db.run_sync(lambda s: list(s.execute(select(StudentLink)).scalars()))
    runtime.db.close()
    return rows


def test_telegram_link_prints_a_new_single_use_link_each_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path}/links.sqlite3"
    _enrol(url, "edx-42")
    monkeypatch.setenv("MENTORBOT_DATABASE_URL", url)
    monkeypatch.setenv("MENTORBOT_TELEGRAM__USERNAME", "mentorbot_demo_bot")
    monkeypatch.setenv("MENTORBOT_TELEGRAM__LINK_TTL_DAYS", "2")
    runner = CliRunner()
    first, second = (runner.invoke(cli, ["telegram-link", "edx-42"]) for _ in range(2))
    assert first.exit_code == 0 and second.exit_code == 0, first.output
    link, other = first.stdout.strip(), second.stdout.strip()
    assert link.startswith("https://t.me/mentorbot_demo_bot?start=stu-") and other != link
    assert "Opens once" in first.stderr
    rows = _links(url)
    assert len(rows) == 2
    assert all(r.expires_at - r.created_at == timedelta(days=2) for r in rows)
    assert not any(link.split("start=")[1] in r.token_hash for r in rows)  # only hashes kept


def test_telegram_link_refuses_unknown_students_and_a_missing_username(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path}/links.sqlite3"
    _enrol(url, "edx-42")
    monkeypatch.setenv("MENTORBOT_DATABASE_URL", url)
    monkeypatch.delenv("MENTORBOT_TELEGRAM__TOKEN", raising=False)
    monkeypatch.delenv("MENTORBOT_TELEGRAM__USERNAME", raising=False)
    nameless = CliRunner().invoke(cli, ["telegram-link", "edx-42"])
    assert nameless.exit_code == 2 and "MENTORBOT_TELEGRAM__USERNAME" in nameless.output
    monkeypatch.setenv("MENTORBOT_TELEGRAM__USERNAME", "mentorbot_demo_bot")
    unknown = CliRunner().invoke(cli, ["telegram-link", "edx-404"])
    assert unknown.exit_code == 2 and "no student" in unknown.output
    assert _links(url) == []  # nothing stored for links never shown


@pytest.fixture
def runtime(sqlite_url: str, clock: FakeClock) -> Iterator[Runtime]:
    rt = build_runtime(make_settings(sqlite_url), clock=clock)
    yield rt
    rt.db.close()


_updates = itertools.count(1)


async def _opens(runtime: Runtime, address: str, token: str) -> list[Outbound]:
    inbound = Inbound(
        "telegram", address, f"tg:{next(_updates)}", f"/start {token}", link_token=token
    )
    return list((await runtime.engine.handle(inbound)).outbound)


def _telegram_chats(runtime: Runtime, person_id: int) -> list[str]:
    query = select(Identity.address).where(
        Identity.channel == "telegram", Identity.person_id == person_id
    )
    return runtime.db.run_sync(lambda s: list(s.execute(query).scalars()))


async def test_an_invitation_with_an_lms_id_moves_the_one_chat(runtime: Runtime) -> None:
    add_student(runtime, "Dana Brooks", channel="telegram", address="501", eligible=False)
    named = Person.display_name == "Dana Brooks"
    runtime.db.run_sync(lambda s: s.execute(update(Person).where(named).values(lms_id="m-7")))
    dana = runtime.db.run_sync(lambda s: s.execute(select(Person).where(named)).scalar_one())
    token = runtime.db.run_sync(
        lambda s: mentor_store.create_invitation(
            s, "mentor", "Dana Brooks", "m-7", START, timedelta(days=7)
        )
    )
    sent = await _opens(runtime, "502", token)
    welcome = [o.reply.text for o in sent if o.address == "502"]
    told = [o.reply.text for o in sent if o.address == "501"]
    assert "You are now a mentor" in welcome[0]
    assert told and "linked to another chat" in told[0]
    assert _telegram_chats(runtime, dana.id) == ["502"]


async def test_a_slowed_chat_does_not_use_up_an_invitation(
    runtime: Runtime, clock: FakeClock
) -> None:
    token = runtime.db.run_sync(
        lambda s: mentor_store.create_invitation(
            s, "mentor", "Nora Quinn", None, START, timedelta(days=7)
        )
    )
    for n in range(5):
        refused = await _opens(runtime, "601", f"inv-wrong-{n}")
        assert "not valid" in refused[0].reply.text
    slowed = await _opens(runtime, "601", token)
    assert "Too many invalid links" in slowed[0].reply.text
    unused = runtime.db.run_sync(lambda s: s.execute(select(Invitation)).scalar_one())
    assert unused.used_at is None
    clock.advance(timedelta(minutes=15))
    welcome = await _opens(runtime, "601", token)
    assert "Welcome, Nora Quinn" in welcome[0].reply.text
