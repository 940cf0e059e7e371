"""Students' deep links end to end over real HTTP (Telegram emulator, polling, a fake clock):
links come from the API, each one new; a link opens once and only before it expires; a used,
expired or forged token is refused and changes nothing; opening a link moves the student's one
Telegram identity and tells the chat they left; a chat sending bad tokens is slowed down
(invitation tokens count too) until the window passes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from bot.clock import FakeClock
from bot.links import make_link_token
from bot.settings import Settings
from storage.tables import Identity, Person, RateLimit, StudentLink
from tests.conftest import START
from tests.emulators.telegram_state import SentRecord
from tests.telegram_world import API_TOKEN, World, telegram_world

pytestmark = pytest.mark.e2e

NOT_VALID = "This link is not valid"
TOO_MANY = "Too many invalid links"
MOVED = "Your account was just linked to another chat"


@pytest.fixture(scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    path: Path = tmp_path_factory.mktemp("links") / "links.sqlite3"
    clock = FakeClock(START)
    async with telegram_world(
        f"sqlite:///{path}", "polling", clock=clock, per_chat_per_second=5
    ) as w:
        yield w


def db(world: World, work: Any) -> Any:
    return world.runtime.db.run_sync(work)


def clock(world: World) -> FakeClock:
    assert isinstance(world.runtime.clock, FakeClock)
    return world.runtime.clock


def enrol(world: World, name: str, lms_id: str) -> int:
    """A student imported from the LMS, not on Telegram yet."""
    person = Person(display_name=name, lms_id=lms_id, locale="en", created_at=clock(world).now())

    def add(session: Any) -> int:
        session.add(person)
        session.flush()
        return int(person.id)

    return db(world, add)


def chat(world: World, name: str = "Eve") -> int:
    uid = world.new_user_id()
    world.emu.register_chat(uid, first_name=name)
    return uid


async def new_link(world: World, lms_id: str) -> dict[str, str]:
    url = world.base_url + "/api/v1/telegram/links"
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, json={"lms_id": lms_id}, headers=headers) as made,
    ):
        assert made.status == 200, await made.text()
        return dict(await made.json())


async def heard(world: World, uid: int, fragment: str, times: int = 1) -> SentRecord:
    """Wait until the chat has received `times` messages containing `fragment`."""

    def matching() -> list[SentRecord]:
        return [r for r in world.emu.messages_to(uid) if fragment in (r.text or "")]

    await world.emu.wait_for(lambda _r: len(matching()) >= times, 5)
    return matching()[times - 1]


async def opens(world: World, uid: int, token: str) -> None:
    await world.emu.user_sends_command(uid, "start", token, first_name="Eve")


def owner(world: World, uid: int) -> int | None:
    query = select(Identity.person_id).where(
        Identity.channel == "telegram", Identity.address == str(uid)
    )
    return db(world, lambda s: s.execute(query).scalar())


def telegram_chats(world: World, person_id: int) -> list[str]:
    query = select(Identity.address).where(
        Identity.channel == "telegram", Identity.person_id == person_id
    )
    return sorted(db(world, lambda s: list(s.execute(query).scalars())))


async def a_visitor(world: World, name: str = "Eve") -> tuple[int, int]:
    """A chat that has written once, so it is someone (an automatic visitor) already."""
    uid = chat(world, name)
    await world.emu.user_sends_text(uid, "hi", first_name=name)
    await world.emu.wait_for(lambda _r: owner(world, uid) is not None, 5)
    return uid, int(owner(world, uid) or 0)


async def test_the_api_makes_a_new_link_on_every_call(world: World) -> None:
    enrol(world, "Lin Chen", "edx-lin")
    first, second = await new_link(world, "edx-lin"), await new_link(world, "edx-lin")
    assert first["token"] != second["token"] and first["url"] != second["url"]
    assert first["token"].startswith("stu-") and first["url"].endswith("?start=" + first["token"])
    expires = clock(world).now() + timedelta(days=7)
    assert first["expires_at"] == expires.isoformat()
    url = world.base_url + "/api/v1/telegram/links"
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json={"lms_id": "edx-lin"}) as denied:
            assert denied.status == 401
        headers = {"Authorization": f"Bearer {API_TOKEN}"}
        async with http.post(url, json={"lms_id": "nobody"}, headers=headers) as unknown:
            assert unknown.status == 404
    stored = db(world, lambda s: list(s.execute(select(StudentLink.token_hash)).scalars()))
    assert first["token"] not in stored and second["token"] not in stored


async def test_a_link_links_the_chat_once_and_a_forwarded_copy_is_refused(world: World) -> None:
    ana = enrol(world, "Ana Lopez", "edx-ana")
    link = await new_link(world, "edx-ana")
    uid = chat(world, "Ana")
    await opens(world, uid, link["token"])
    await world.emu.user_sends_command(uid, "mydata", first_name="Ana")
    await heard(world, uid, "Name: Ana Lopez")
    assert owner(world, uid) == ana
    eve, visitor = await a_visitor(world)
    await opens(world, eve, link["token"])  # the same link, forwarded
    await heard(world, eve, NOT_VALID)
    assert owner(world, eve) == visitor  # Eve stays who she was
    assert telegram_chats(world, ana) == [str(uid)]
    assert not any(MOVED in (r.text or "") for r in world.emu.messages_to(uid))


async def test_an_expired_link_is_refused(world: World) -> None:
    bo = enrol(world, "Bo Kim", "edx-bo")
    link = await new_link(world, "edx-bo")
    clock(world).advance(timedelta(days=7, seconds=1))
    uid = chat(world, "Bo")
    await opens(world, uid, link["token"])
    await heard(world, uid, NOT_VALID)
    assert owner(world, uid) != bo and telegram_chats(world, bo) == []


async def test_forged_tokens_are_refused(world: World) -> None:
    cy = enrol(world, "Cy Park", "edx-cy")
    real = (await new_link(world, "edx-cy"))["token"]
    uid, visitor = await a_visitor(world)
    altered = real[:-1] + ("A" if real[-1] != "A" else "B")
    old_kind = make_link_token("edx-cy", "mentorbot-dev-links")  # signed, as links used to be
    for n, token in enumerate(["stu-" + "A" * 32, altered, old_kind], start=1):
        await opens(world, uid, token)
        await heard(world, uid, NOT_VALID, times=n)
    assert owner(world, uid) == visitor and telegram_chats(world, cy) == []
    await opens(world, uid, real)  # the real link was not touched by the forgeries
    await world.emu.wait_for(lambda _r: owner(world, uid) == cy, 5)


async def test_a_new_chat_takes_over_and_the_old_chat_is_told(world: World) -> None:
    dee = enrol(world, "Dee Rao", "edx-dee")
    phone = chat(world, "Dee")
    await opens(world, phone, (await new_link(world, "edx-dee"))["token"])
    await world.emu.wait_for(lambda _r: owner(world, phone) == dee, 5)
    laptop = chat(world, "Dee")
    await opens(world, laptop, (await new_link(world, "edx-dee"))["token"])
    notice = await heard(world, phone, MOVED)
    assert "contact your school" in (notice.text or "")
    assert telegram_chats(world, dee) == [str(laptop)]  # one Telegram identity, never two
    assert owner(world, phone) is None
    await world.emu.user_sends_text(phone, "hello?", first_name="Dee")
    await world.emu.wait_for(lambda _r: owner(world, phone) is not None, 5)
    assert owner(world, phone) != dee  # the old chat is a new visitor now, not Dee
    assert not any(MOVED in (r.text or "") for r in world.emu.messages_to(laptop))


async def test_opening_ones_own_link_again_changes_nothing(world: World) -> None:
    eli = enrol(world, "Eli Moss", "edx-eli")
    token = (await new_link(world, "edx-eli"))["token"]
    uid = chat(world, "Eli")
    await opens(world, uid, token)
    await world.emu.wait_for(lambda _r: owner(world, uid) == eli, 5)
    await opens(world, uid, token)  # tapped again in the same chat
    await world.emu.user_sends_command(uid, "mydata", first_name="Eli")
    await heard(world, uid, "Name: Eli Moss")
    assert not any(NOT_VALID in (r.text or "") for r in world.emu.messages_to(uid))
    assert telegram_chats(world, eli) == [str(uid)]


async def test_a_chat_sending_bad_tokens_is_slowed_down(world: World) -> None:
    fay = enrol(world, "Fay Lund", "edx-fay")
    good = (await new_link(world, "edx-fay"))["token"]
    uid, visitor = await a_visitor(world, "Mallory")
    bad = ["stu-guess1", "stu-guess2", "inv-guess3", "nonsense", "inv-guess5"]
    for n, token in enumerate(bad, start=1):  # invitation tokens count toward the same limit
        await opens(world, uid, token)
        await heard(world, uid, "not valid", times=n)
    await opens(world, uid, good)  # the sixth: refused without being checked
    await heard(world, uid, TOO_MANY)
    await opens(world, uid, "inv-guess7")
    await heard(world, uid, TOO_MANY, times=2)
    assert owner(world, uid) == visitor and telegram_chats(world, fay) == []
    keys = db(world, lambda s: list(s.execute(select(RateLimit.key)).scalars()))
    assert keys and not any(str(uid) in key for key in keys)  # no chat id outlives an erasure
    other, _ = await a_visitor(world)  # another chat is not slowed by Mallory's
    await opens(world, other, "stu-guess")
    await heard(world, other, NOT_VALID)
    clock(world).advance(timedelta(minutes=15))  # the window passes
    await opens(world, uid, good)  # still unused: the slowed attempt never opened it
    await world.emu.wait_for(lambda _r: owner(world, uid) == fay, 5)


def test_the_old_link_secret_setting_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MENTORBOT_TELEGRAM__LINK_SECRET", "an-old-secret")
    monkeypatch.setenv("MENTORBOT_TELEGRAM__LINK_TTL_DAYS", "2")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.telegram.link_ttl_days == 2
    assert not hasattr(settings.telegram, "link_secret")
