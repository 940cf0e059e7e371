"""The channel-neutral vocabulary, now in `core.messages`: imported from here too."""

from core.messages import (
    Attachment,
    Channel,
    Choice,
    Inbound,
    Outbound,
    Reply,
    start_payload,
)

__all__ = [
    "Attachment",
    "Channel",
    "Choice",
    "Inbound",
    "Outbound",
    "Reply",
    "start_payload",
]
