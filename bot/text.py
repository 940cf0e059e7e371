"""Inbound text cleaning, now in `core.text`: imported from here too."""

from core.text import (
    MAX_STORED_CHARS,
    clean_text,
    fold_for_matching,
)

__all__ = [
    "MAX_STORED_CHARS",
    "clean_text",
    "fold_for_matching",
]
