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


def fold_for_matching(text: str, *, drop_apostrophes: bool = False) -> str:
    """Casefold; drop Latin accents ("sí" == "si"), punctuation, symbols, emoji and zero-width
    characters; keep other scripts' marks (Devanagari vowel signs) and fold ё/е, ँ/ं."""
    if drop_apostrophes:
        text = text.replace("'", "").replace("’", "")
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    kept: list[str] = []
    for ch in decomposed:
        category = unicodedata.category(ch)
        if category == "Cf" or (category == "Mn" and kept and kept[-1].isascii()):
            continue
        kept.append(" " if category[0] in "PSZC" else ch)
    folded = unicodedata.normalize("NFC", "".join(kept)).replace("ё", "е").replace("ँ", "ं")
    return " ".join(folded.split())
