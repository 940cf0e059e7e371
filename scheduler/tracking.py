"""Tracked links in nudges: a signed token naming the delivery, and UTM-tagged targets.

`GET /l/<token>` records the click as engagement and redirects to the target with UTM
parameters: source = channel, medium = mentorbot, campaign = campaign id and date,
content = template key, term = segment (engagement.performance).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from functools import lru_cache
from urllib.parse import SplitResult, parse_qsl, quote_plus, urlencode, urlsplit, urlunsplit

_SIG_BYTES = 10
_PLAIN = re.compile(r"[A-Za-z0-9_.\-]*")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _sign(payload: bytes, secret: str) -> bytes:
    mac = _keyed(secret).copy()
    mac.update(payload)
    return mac.digest()[:_SIG_BYTES]


@lru_cache(maxsize=16)
def _keyed(secret: str) -> hmac.HMAC:
    """The HMAC state after the key and the prefix: copying it is cheaper than rekeying."""
    return hmac.new(secret.encode(), b"nudge-link:", hashlib.sha256)


def make_link_token(delivery_id: int, secret: str) -> str:
    payload = delivery_id.to_bytes(8, "big").lstrip(b"\0") or b"\0"
    return _b64(_sign(payload, secret) + payload)


def read_link_token(token: str, secret: str) -> int | None:
    """The delivery id if the token is ours and intact, else None."""
    if not token or len(token) > 40:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, TypeError):
        return None
    signature, payload = raw[:_SIG_BYTES], raw[_SIG_BYTES:]
    if not payload or not hmac.compare_digest(signature, _sign(payload, secret)):
        return None
    return int.from_bytes(payload, "big")


def tracked_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/l/{token}"


@lru_cache(maxsize=4096)  # few distinct (channel, campaign, day, template, segment) per run
def utm_target(base: str, *, channel: str, campaign: str, day: str, template: str,
               segment: str) -> str:
    """The destination with UTM parameters added (existing query parameters are kept)."""
    parts = _split(base)
    utm = "&".join(f"{k}={_quote(v)}" for k, v in (
        ("utm_source", channel), ("utm_medium", "mentorbot"),
        ("utm_campaign", f"{campaign}_{day}"), ("utm_content", template), ("utm_term", segment)))
    query = f"{parts.query}&{utm}" if parts.query else utm
    return urlunsplit(parts._replace(query=query))


@lru_cache(maxsize=64)
def _split(base: str) -> SplitResult:
    """The base URL with any UTM parameters of its own removed (they would be ambiguous)."""
    parts = urlsplit(base)
    kept = [(k, v) for k, v in parse_qsl(parts.query) if not k.startswith("utm_")]
    return parts._replace(query=urlencode(kept))


def _quote(value: str) -> str:
    return value if _PLAIN.fullmatch(value) else quote_plus(value)
