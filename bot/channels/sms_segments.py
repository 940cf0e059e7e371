"""SMS segment counting (GSM-7 / UCS-2) and shortening to a segment budget.

Pure functions, no I/O. Counting follows 3GPP TS 23.038 and what carriers do when they
concatenate: a part never splits a GSM-7 escape pair or a UTF-16 surrogate pair, so the
per-part budget is sometimes one unit short. Twilio's Smart Encoding is not modelled: we
count the text as given (the conservative answer).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Extension table: sent as ESC + char, so each costs two septets.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67

GSM_ELLIPSIS = "..."
UNICODE_ELLIPSIS = "…"
_TRAILING_JUNK = " \t\n\r,;:-–—"

Encoding = Literal["GSM-7", "UCS-2"]


@dataclass(frozen=True)
class SegmentInfo:
    encoding: Encoding
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    segments: int


def is_gsm7(text: str) -> bool:
    """True if every character is in the GSM-7 basic or extension table."""
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def _unit_costs(text: str) -> tuple[Encoding, list[int]]:
    if is_gsm7(text):
        return "GSM-7", [2 if ch in GSM7_EXTENSION else 1 for ch in text]
    return "UCS-2", [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def _count_parts(costs: Sequence[int], part_size: int) -> int:
    """Greedy packing where a multi-unit character never straddles two parts."""
    parts, used = 1, 0
    for cost in costs:
        if used + cost > part_size:
            parts, used = parts + 1, 0
        used += cost
    return parts


def segment_info(text: str) -> SegmentInfo:
    """Encoding, unit count and number of SMS segments for ``text`` (empty text = 1)."""
    encoding, costs = _unit_costs(text)
    units = sum(costs)
    single, part = (GSM7_SINGLE, GSM7_PART) if encoding == "GSM-7" else (UCS2_SINGLE, UCS2_PART)
    segments = 1 if units <= single else _count_parts(costs, part)
    return SegmentInfo(encoding=encoding, units=units, segments=segments)


def _word_cuts(text: str) -> list[int]:
    """Prefix lengths that end just before whitespace, ascending."""
    return [i for i in range(1, len(text)) if text[i].isspace() and not text[i - 1].isspace()]


def _longest_fitting(cuts: Sequence[int], fits: Callable[[int], bool]) -> int | None:
    """Largest cut for which ``fits(cut)`` holds; segment counts grow with the prefix."""
    lo, hi, best = 0, len(cuts) - 1, None
    while lo <= hi:
        mid = (lo + hi) // 2
        if fits(cuts[mid]):
            best, lo = cuts[mid], mid + 1
        else:
            hi = mid - 1
    return best


def _shortened(text: str, cut: int, ellipsis: str, link: str | None) -> str:
    head = text[:cut].rstrip(_TRAILING_JUNK) + ellipsis
    return f"{head} {link}" if link else head


def _best_cut(text: str, ellipsis: str, link: str | None, max_segments: int) -> int | None:
    def fits(cut: int) -> bool:
        return segment_info(_shortened(text, cut, ellipsis, link)).segments <= max_segments

    by_word = _longest_fitting(_word_cuts(text), fits)
    if by_word is not None:
        return by_word
    # One very long word (or a script without spaces): cut between characters instead.
    return _longest_fitting(range(1, len(text)), fits)


def fit_segments(
    text: str, max_segments: int = 3, link: str | None = None, *, link_needed: bool = False
) -> str:
    """``text`` unchanged if it fits in ``max_segments``; else a word-boundary prefix + ellipsis
    (+ " " + ``link``) that fits. "..." is tried alongside "…" so a GSM-7 text stays GSM-7.
    ``link_needed``: the caller knows text and link do not fit together and the link must go
    (a reply's choices), so the text is cut even when it would fit alone.

    Raises ``ValueError`` if ``max_segments < 1`` or the link alone cannot fit.
    """
    if max_segments < 1:
        raise ValueError(f"max_segments must be >= 1, got {max_segments}")
    if segment_info(text).segments <= max_segments and not (link_needed and link):
        return text
    best: tuple[int, str] | None = None
    for ellipsis in (GSM_ELLIPSIS, UNICODE_ELLIPSIS):
        cut = _best_cut(text, ellipsis, link, max_segments)
        if cut is not None and (best is None or cut > best[0]):
            best = (cut, ellipsis)
    if best is None:
        raise ValueError(f"link of {len(link or '')} chars cannot fit in {max_segments} segments")
    return _shortened(text, best[0], best[1], link)
