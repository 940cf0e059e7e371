"""Signed deep-link tokens that tie a chat to a student's LMS id (`/start <token>`)."""

from __future__ import annotations

import base64
import hashlib
import hmac

_SIG_BYTES = 12
# Telegram allows 64 characters of [A-Za-z0-9_-] in a /start payload.
MAX_TOKEN_CHARS = 64


class LinkTokenError(ValueError):
    """The LMS id cannot fit in a deep link."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_link_token(lms_id: str, secret: str) -> str:
    payload = lms_id.encode()
    signature = hmac.new(secret.encode(), payload, hashlib.sha256).digest()[:_SIG_BYTES]
    token = _b64(signature + payload)
    if len(token) > MAX_TOKEN_CHARS:
        raise LinkTokenError(f"LMS id {lms_id!r} is too long for a deep link")
    return token


def read_link_token(token: str, secret: str) -> str | None:
    """The LMS id if the token is ours and intact, else None."""
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
