"""Signed tokens that carry a short value in a URL (an SMS's full-text link carries its delivery
id) and need no database row to check.

Students' deep links do not use these: a signed token would work for anyone, forever. They are
random, single-use and expiring instead (`storage/student_links.py`, `bot/deep_links.py`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

_SIG_BYTES = 12
# Short enough for any URL path segment (it was Telegram's /start limit).
MAX_TOKEN_CHARS = 64


class LinkTokenError(ValueError):
    """The value cannot fit in a token."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_link_token(value: str, secret: str) -> str:
    payload = value.encode()
    signature = hmac.new(secret.encode(), payload, hashlib.sha256).digest()[:_SIG_BYTES]
    token = _b64(signature + payload)
    if len(token) > MAX_TOKEN_CHARS:
        raise LinkTokenError(f"{value!r} is too long for a link token")
    return token


def read_link_token(token: str, secret: str) -> str | None:
    """The value if the token is ours and intact, else None."""
    if not token or len(token) > MAX_TOKEN_CHARS:
        return None
    try:
        raw = _unb64(token)
    except (ValueError, TypeError):
        return None
    signature, payload = raw[:_SIG_BYTES], raw[_SIG_BYTES:]
    expected = hmac.new(secret.encode(), payload, hashlib.sha256).digest()[:_SIG_BYTES]
    if not payload or not hmac.compare_digest(signature, expected):
        return None
    try:
        return payload.decode()
    except UnicodeDecodeError:
        return None
