"""Message records, Twilio error bodies and SMS segment counting for the Twilio emulator.

The segment counter is deliberately independent of the app's own counter so each checks
the other: GSM-7 (160 septets, 153 per concatenated part, extension characters cost two)
or UCS-2 (70 UTF-16 units, 67 per part). A character is never split across two parts.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any, Self

import phonenumbers

API_VERSION = "2010-04-01"

_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")
# The subset of Twilio's Smart Encoding table that matters for our copy (quotes, dashes, spaces).
# fmt: off
_SMART_ENCODING = str.maketrans(
    {
        "‘": "'", "’": "'", "‚": "'", "‛": "'", "′": "'", "‹": "'", "›": "'",
        "“": '"', "”": '"', "„": '"', "‟": '"', "″": '"', "«": '"', "»": '"',
        "‐": "-", "‑": "-", "‒": "-", "–": "-", "—": "-", "―": "-", "−": "-",
        "…": "...", "\u00a0": " ", "\u2002": " ", "\u2003": " ", "\u2009": " ",
        "\u200a": " ", "\u202f": " ", "\u205f": " ", "\u3000": " ", "\u200b": "",
    }
)
# fmt: on


def smart_encode(text: str) -> str:
    return text.translate(_SMART_ENCODING)


def count_segments(body: str, *, smart_encoded: bool = False) -> int:
    """Segments Twilio bills for `body` (GSM-7 if every character fits, else UCS-2)."""
    text = smart_encode(body) if smart_encoded else body
    if all(ch in _GSM7_BASIC or ch in _GSM7_EXTENSION for ch in text):
        units = [2 if ch in _GSM7_EXTENSION else 1 for ch in text]
        return _pack(units, single=160, part=153)
    units = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
    return _pack(units, single=70, part=67)


def _pack(units: list[int], *, single: int, part: int) -> int:
    if sum(units) <= single:
        return 1
    segments, used = 1, 0
    for size in units:
        if used + size > part:
            segments, used = segments + 1, 0
        used += size
    return segments


def new_sid(prefix: str) -> str:
    return prefix + uuid.uuid4().hex


def rfc2822(moment: datetime | None) -> str | None:
    return format_datetime(moment) if moment else None


@dataclass
class EmulatedMessage:
    """One outbound message as the emulator stores it; times in `history`/`*_at` are loop time."""

    sid: str
    account_sid: str
    sender: str  # the queue it waits in: From, or the MessagingServiceSid when From is unset
    to: str
    from_: str | None
    messaging_service_sid: str | None
    body: str
    status: str
    segments: int
    status_callback: str | None
    validity_period: float
    queued_at: float
    date_created: datetime = field(default_factory=lambda: datetime.now(UTC))
    date_updated: datetime = field(default_factory=lambda: datetime.now(UTC))
    date_sent: datetime | None = None
    sent_at: float | None = None
    error_code: int | None = None
    history: list[tuple[str, float]] = field(default_factory=list)

    @classmethod
    def from_form(cls, form: Mapping[str, str], *, account_sid: str, now: float) -> Self:
        """A new message from a validated create form; queued, or accepted by a service."""
        service = form.get("MessagingServiceSid") or None
        body = form.get("Body", "")
        message = cls(
            sid=new_sid("SM"),
            account_sid=account_sid,
            sender=form.get("From") or service or "",
            to=form["To"],
            from_=form.get("From") or None,
            messaging_service_sid=service,
            body=body,
            status="accepted" if service else "queued",
            segments=count_segments(body, smart_encoded=form.get("SmartEncoded") == "true"),
            status_callback=form.get("StatusCallback") or None,
            validity_period=float(form.get("ValidityPeriod", 36000)),
            queued_at=now,
        )
        message.history.append((message.status, now))
        return message

    @property
    def statuses(self) -> list[str]:
        return [status for status, _ in self.history]

    def set_status(self, status: str, at: float, error_code: int | None = None) -> None:
        self.status = status
        self.error_code = error_code if error_code is not None else self.error_code
        self.date_updated = datetime.now(UTC)
        self.history.append((status, at))

    @property
    def uri(self) -> str:
        return f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}.json"

    def to_json(self) -> dict[str, Any]:
        # A Messaging Service picks the sender (and counts segments) only when it dequeues.
        picked = not (self.messaging_service_sid and self.sent_at is None)
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": self.body,
            "date_created": rfc2822(self.date_created),
            "date_sent": rfc2822(self.date_sent),
            "date_updated": rfc2822(self.date_updated),
            "direction": "outbound-api",
            "error_code": self.error_code,
            "error_message": None,
            "from": self.from_,
            "messaging_service_sid": self.messaging_service_sid,
            "num_media": "0",
            "num_segments": str(self.segments if picked else 0),
            "price": None,
            "price_unit": "USD",
            "sid": self.sid,
            "status": self.status,
            "subresource_uris": {"media": self.uri.replace(".json", "/Media.json")},
            "to": self.to,
            "uri": self.uri,
        }


def status_callback_params(
    message: EmulatedMessage, status: str, error_code: int | None
) -> dict[str, str]:
    """The form Twilio POSTs to a message's StatusCallback URL."""
    params = {
        "AccountSid": message.account_sid,
        "ApiVersion": API_VERSION,
        "From": message.from_ or "",
        "MessageSid": message.sid,
        "MessageStatus": status,
        "SmsSid": message.sid,
        "SmsStatus": status,
        "To": message.to,
    }
    if message.messaging_service_sid:
        params["MessagingServiceSid"] = message.messaging_service_sid
    if error_code is not None:
        params["ErrorCode"] = str(error_code)
    if status in ("delivered", "undelivered"):
        params["RawDlrDoneDate"] = datetime.now(UTC).strftime("%y%m%d%H%M")
    return params


# Twilio's default keywords (single words, any case) and replies; Advanced Opt-Out may add more.
DEFAULT_KEYWORDS: dict[str, frozenset[str]] = {
    "STOP": frozenset(
        {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
    ),
    "START": frozenset({"START", "YES", "UNSTOP"}),
    "HELP": frozenset({"HELP", "INFO"}),
}
DEFAULT_KEYWORD_REPLIES = {
    "STOP": "You have successfully been unsubscribed. You will not receive any more messages "
    "from this number. Reply START to resubscribe.",
    "START": "You have successfully been re-subscribed to messages from this number. Reply HELP "
    "for help. Reply STOP to unsubscribe. Msg&Data Rates May Apply.",
    "HELP": "Reply STOP to unsubscribe. Msg&Data Rates May Apply.",
}


def opt_out_type(body: str, keywords: Mapping[str, frozenset[str]]) -> str | None:
    """The OptOutType Twilio gives an inbound message: the whole body must be the keyword."""
    word = body.strip().upper()
    return next((kind for kind, words in keywords.items() if word in words), None)


def inbound_params(
    *,
    account_sid: str,
    message_sid: str,
    from_: str,
    to: str,
    body: str,
    messaging_service_sid: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The form Twilio POSTs to a number's messaging webhook for an incoming SMS."""
    params = {
        "ToCountry": _country(to), "ToState": "", "ToCity": "", "ToZip": "",
        "FromCountry": _country(from_), "FromState": "", "FromCity": "", "FromZip": "",
        "SmsMessageSid": message_sid, "SmsSid": message_sid, "MessageSid": message_sid,
        "NumMedia": "0", "NumSegments": str(count_segments(body)), "SmsStatus": "received",
        "Body": body, "From": from_, "To": to, "AccountSid": account_sid,
        "ApiVersion": API_VERSION,
    }  # fmt: skip
    if messaging_service_sid:
        params["MessagingServiceSid"] = messaging_service_sid
    params.update(extra or {})
    return params


def _country(number: str) -> str:
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(number)) or ""
    except phonenumbers.NumberParseException:
        return ""
