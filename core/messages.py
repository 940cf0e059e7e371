"""The channel-neutral vocabulary: what comes in, what goes out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Channel(StrEnum):
    TELEGRAM = "telegram"
    SMS = "sms"
    WEBCHAT = "webchat"
    CONSOLE = "console"


@dataclass(frozen=True, slots=True)
class Choice:
    """An answer the person can pick; adapters render it as a button or a numbered line."""

    id: str
    label: str


@dataclass(frozen=True, slots=True)
class Inbound:
    """One message from a person, as any channel adapter hands it to the engine."""

    channel: str
    address: str
    external_id: str
    text: str = ""
    received_at: datetime | None = None
    choice_id: str | None = None
    contact_phone: str | None = None
    locale_hint: str | None = None
    display_name: str | None = None
    link_token: str | None = None
    # A compliance keyword the carrier already answered (Twilio Advanced Opt-Out's OptOutType),
    # as a handlers.keywords.Keyword value: recorded, and not confirmed a second time.
    keyword_answered: str | None = None


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with a reply: channels that can carry files send it after the text
    (Telegram as a document, or a photo for images; the web chat as a download); SMS cannot,
    so a reply with an attachment must make sense without it."""

    name: str
    media_type: str
    data: bytes = field(repr=False)

    @property
    def is_image(self) -> bool:
        return self.media_type.startswith("image/")


@dataclass(frozen=True, slots=True)
class Reply:
    """One message to a person, already in their language."""

    text: str
    choices: tuple[Choice, ...] = ()
    request_phone: bool = False
    attachment: Attachment | None = None


@dataclass(frozen=True, slots=True)
class Outbound:
    """A reply addressed and recorded as a delivery, ready for a channel to send."""

    delivery_id: int
    channel: str
    address: str
    reply: Reply
    person_id: int | None = None
    kind: str = "reply"
    meta: dict[str, object] = field(default_factory=dict)
    # The send-time policy already allowed it and the turn leased it (status "claimed").
    admitted: bool = False


def start_payload(text: str) -> str | None:
    """The token of "/start <token>" (a deep link opened, or typed in the web chat)."""
    head, _, payload = text.strip().partition(" ")
    if head.split("@", 1)[0].lower() != "/start":
        return None
    return payload.strip() or None
