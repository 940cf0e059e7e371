"""Single-use tokens opened in a chat (invitations, students' links): random and URL-safe, and
stored only as a SHA-256, so a copy of the database cannot be used to take over anyone."""

from __future__ import annotations

import hashlib
import secrets

# Telegram carries at most 64 characters of [A-Za-z0-9_-] in a /start payload.
MAX_TOKEN_CHARS = 64
_RANDOM_BYTES = 24  # 192 bits: 32 characters, never guessed


def new_token(prefix: str) -> str:
    token = prefix + secrets.token_urlsafe(_RANDOM_BYTES)
    if len(token) > MAX_TOKEN_CHARS:
        raise ValueError(f"prefix {prefix!r} makes the token too long for a /start payload")
    return token


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
