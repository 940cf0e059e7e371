"""Conversations as transcripts: `await ana.says("hi")`, then look at what she heard."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import timedelta

from bot.app import Runtime
from bot.messages import Inbound, Reply
from storage.people import link_identity
from storage.tables import Person

_ids = itertools.count(1)


@dataclass
class Chatter:
    runtime: Runtime
    channel: str
    address: str
    heard: list[Reply] = field(default_factory=list)

    async def says(
        self,
        text: str = "",
        *,
        choice: str | None = None,
        contact: str | None = None,
        external_id: str | None = None,
    ) -> list[Reply]:
        inbound = Inbound(
            self.channel,
            self.address,
            external_id or f"x{next(_ids)}",
            text,
            choice_id=choice,
            contact_phone=contact,
        )
        handled = await self.runtime.engine.handle(inbound)
        # What this person hears; deliveries to others (a mentor, a relay) are not theirs.
        replies = [o.reply for o in handled.outbound if o.address == self.address]
        self.heard.extend(replies)
        return replies

    async def picks(self, label_or_id: str) -> list[Reply]:
        """Press a button from the latest message that offered it (by id or by label)."""
        for reply in reversed(self.heard):
            for choice in reply.choices:
                if label_or_id in (choice.id, choice.label):
                    return await self.says(choice.label, choice=choice.id)
        raise AssertionError(f"no choice {label_or_id!r} was offered; heard: {self.texts()}")

    def texts(self) -> list[str]:
        return [r.text for r in self.heard]

    def last(self) -> Reply:
        return self.heard[-1]


def add_student(
    runtime: Runtime,
    name: str,
    *,
    channel: str = "webchat",
    address: str | None = None,
    eligible: bool = True,
    under_13: bool = False,
    locale: str = "en",
) -> Chatter:
    now = runtime.clock.now()
    address = address or f"{name.lower()}-{next(_ids)}"

    def create(session: object) -> None:
        person = Person(
            role="student",
            display_name=name,
            locale=locale,
            track="verified" if eligible else "audit",
            program="microbachelors-cs",
            last_active_at=now - timedelta(days=2),
            under_13=under_13,
            created_at=now,
        )
        session.add(person)  # type: ignore[attr-defined]
        session.flush()  # type: ignore[attr-defined]
        link_identity(session, person.id or 0, channel, address, now)  # type: ignore[arg-type]

    runtime.db.run_sync(create)
    return Chatter(runtime, channel, address)
