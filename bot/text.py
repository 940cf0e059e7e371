"""Inbound text cleaning: whatever arrives, the core only ever sees storable Unicode."""

from __future__ import annotations

import unicodedata

MAX_STORED_CHARS = 1_000_000


def clean_text(raw: str | None) -> str:
    """Drop NULs and lone surrogates (PostgreSQL and UTF-8 refuse them) and normalise to NFC."""
    if not raw:
        return ""
    text = raw.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")
    return unicodedata.normalize("NFC", text[:MAX_STORED_CHARS])
