"""The SMS world for end-to-end tests: the app under uvicorn on loopback + the Twilio emulator."""

from __future__ import annotations

import asyncio
import itertools
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import uvicorn
from sqlalchemy import select
from sqlmodel import Session

from bot.app import Runtime, build_runtime
from bot.channels.sms import SmsChannel
from bot.clock import FakeClock
from bot.messages import Reply
from bot.web import create_web_app
from storage.outbox import add_replies
from storage.people import link_identity
from storage.tables import Delivery, Person, SmsInbox
from tests.conftest import make_settings
from tests.emulators.twilio_api import TwilioEmulator

PUBLIC = "https://mentorbot.example"
OUR_NUMBER = "+15005550006"
T = TypeVar("T")
_sids = itertools.count(1)
_POLL = 0.02


@dataclass
class SmsWorld:
    runtime: Runtime
    emu: TwilioEmulator
    clock: FakeClock
    local_url: str

    @property
    def channel(self) -> SmsChannel:
        return self.runtime.extras["sms"]

    def db(self, work: Callable[[Session], T]) -> T:
        return self.runtime.db.run_sync(work)

    async def text(self, phone: str, body: str, **kw: Any) -> str:
        """A person texts us; returns the MessageSid after the turn has run."""
        sid = kw.pop("message_sid", None) or f"SMtest{next(_sids):026d}"
        status = await self.emu.send_inbound(
            f"{self.local_url}/sms/inbound", from_=phone, to=OUR_NUMBER, body=body,
            message_sid=sid, **kw,
        )  # fmt: skip
        assert status == 200, status
        await self.until(lambda: self._processed(sid))
        return sid

    def _processed(self, sid: str) -> bool:
        query = select(SmsInbox.processed_at).where(SmsInbox.message_sid == sid)
        return self.db(lambda s: s.execute(query).scalar()) is not None

    async def until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Poll a database-side condition (the emulator's own waits cover its state)."""
        for _ in range(int(timeout / _POLL)):
            if predicate():
                return
            await asyncio.sleep(_POLL)
        raise TimeoutError(f"condition not met within {timeout} s")

    def bodies_to(self, phone: str) -> list[str]:
        return [m.body for m in self.emu.messages_to(phone)]

    def delivery(self, delivery_id: int) -> Delivery:
        return self.db(lambda s: s.get(Delivery, delivery_id))

    def deliveries_to(self, phone: str) -> list[Delivery]:
        query = select(Delivery).where(Delivery.address == phone).order_by(Delivery.id)
        return self.db(lambda s: list(s.execute(query).scalars()))

    def add_person(self, phone: str, *, role: str = "student", **fields: Any) -> int:
        now = self.clock.now()

        def write(session: Session) -> int:
            person = Person(role=role, phone_e164=phone, created_at=now, **fields)
            session.add(person)
            session.flush()
            link_identity(session, person.id or 0, "sms", phone, now)
            return person.id or 0

        return self.db(write)

    def queue(
        self,
        phone: str,
        text: str,
        *,
        kind: str = "nudge",
        person_id: int | None = None,
        **kw: Any,
    ) -> int:
        def write(session: Session) -> int:
            [out] = add_replies(
                session, person_id=person_id, channel="sms", address=phone,
                replies=[Reply(text)], now=self.clock.now(), kind=kind, **kw,
            )  # fmt: skip
            return out.delivery_id

        return self.db(write)

    async def advance(self, delta: timedelta) -> None:
        self.clock.advance(delta)


def _bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@asynccontextmanager
async def sms_world(
    database_url: str, clock: FakeClock, **overrides: Any
) -> AsyncIterator[SmsWorld]:
    """Emulator + app served by uvicorn; Twilio signs for PUBLIC and posts to the loopback app."""
    sock = _bound_socket()
    local = f"http://127.0.0.1:{sock.getsockname()[1]}"
    emu = TwilioEmulator(rate_per_sender=1000.0, public_url_map={PUBLIC: local})
    await emu.start()
    twilio = {
        "account_sid": emu.account_sid, "auth_token": emu.auth_token, "from_number": OUR_NUMBER,
        "api_base": emu.base_url, "rate_per_second": 200.0, "timeout_seconds": 0.5,
        "backoff_seconds": 0.01, "inbox_sweep_seconds": 3600,
    }  # fmt: skip
    twilio.update(overrides.pop("twilio", {}))
    settings = make_settings(
        database_url, public_url=PUBLIC, twilio=twilio, api_token="test-api-token", **overrides
    )
    runtime = build_runtime(settings, clock=clock)
    config = uvicorn.Config(create_web_app(runtime), log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    world = SmsWorld(runtime, emu, clock, local)
    try:
        await world.until(lambda: server.started, timeout=10)
        yield world
    finally:
        server.should_exit = True
        await task
        await emu.stop()
        sock.close()
