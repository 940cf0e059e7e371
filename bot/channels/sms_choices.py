"""Map a free-text SMS reply to one of the options we offered.

Pure and channel-neutral: the caller renders the numbered prompt (localized elsewhere) and
passes the same options here. We never guess: ambiguous or unrecognised replies give None,
and the caller re-asks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Literal

from rapidfuzz import fuzz

from bot.text import fold_for_matching

ChoiceKind = Literal["yes", "no", "other"]

# fmt: off
YES_WORDS = (
    # en
    "y", "yes", "yeah", "yea", "yep", "yup", "ya", "ok", "okay", "k", "sure", "of course",
    "yes please", "absolutely", "definitely",
    # es
    "si", "sí", "claro", "vale", "dale", "por supuesto", "de acuerdo", "si claro",
    # ru
    "да", "ага", "угу", "конечно", "хорошо", "ок", "давай", "да конечно",
    # hi (Devanagari and romanized)
    "हाँ", "हां", "हा", "जी", "जी हाँ", "जी हां", "ठीक है", "haan", "han", "haa", "ji", "jee",
    "ji haan", "theek hai", "thik hai",
)
NO_WORDS = (
    # en
    "n", "no", "nope", "nah", "no thanks", "no thank you", "not now", "never",
    # es
    "no gracias", "nel", "para nada", "todavia no", "todavía no",
    # ru
    "нет", "неа", "не", "нет спасибо", "не надо", "не сейчас",
    # hi
    "नहीं", "नही", "ना", "जी नहीं", "nahi", "nahin", "nai", "na", "ji nahi",
)
# Courtesy words allowed after a yes/no word: "yes please", "нет, спасибо".
FILLER_WORDS = (
    "please", "pls", "thanks", "thank", "you", "gracias", "por", "favor", "спасибо",
    "пожалуйста", "धन्यवाद", "शुक्रिया", "ji", "जी",
)
# fmt: on

FUZZY_CUTOFF = 80.0  # rapidfuzz ratio; ~1 typo in a 5+ letter word
FUZZY_MIN_LENGTH = 3  # shorter inputs only match exactly
TIE_MARGIN = 5.0  # best fuzzy score must beat the runner-up by more than this
_NUMBER = re.compile(r"#?\s*(\d+)\s*[.)]?")
_REPEATS = re.compile(r"(\w)\1{2,}")


@dataclass(frozen=True)
class ChoiceOption:
    id: str
    labels: tuple[str, ...]
    kind: ChoiceKind = "other"


def normalize(text: str) -> str:
    """Casefold, drop Latin accents, punctuation and emoji; keep Devanagari vowel signs."""
    return fold_for_matching(text)


@cache
def _vocabulary(words: tuple[str, ...]) -> frozenset[str]:
    return frozenset(normalize(word) for word in words)


def _yes_no_kind(norm: str) -> ChoiceKind | None:
    tokens = _REPEATS.sub(r"\1", norm).split()  # "yesss" -> "yes"
    fillers = _vocabulary(FILLER_WORDS)
    while len(tokens) > 1 and tokens[-1] in fillers:
        tokens.pop()
    phrase = " ".join(tokens)
    if phrase in _vocabulary(YES_WORDS):
        return "yes"
    if phrase in _vocabulary(NO_WORDS):
        return "no"
    return None


def _unique(matches: list[ChoiceOption]) -> str | None:
    ids = {option.id for option in matches}
    return ids.pop() if len(ids) == 1 else None


def _number_text(text: str) -> str:
    # Phones offer keycap emoji: "1️⃣" is "1" + VS16 + COMBINING ENCLOSING KEYCAP.
    return text.replace("\ufe0f", "").replace("\u20e3", "").strip()


def _by_number(text: str, options: list[ChoiceOption]) -> str | None:
    match = _NUMBER.fullmatch(_number_text(text))
    if match is None:
        return None
    index = int(match.group(1))
    return options[index - 1].id if 1 <= index <= len(options) else None


def _fuzzy(norm: str, options: list[ChoiceOption]) -> str | None:
    if len(norm) < FUZZY_MIN_LENGTH:
        return None
    scored = sorted(
        (
            (max(fuzz.ratio(norm, normalize(label)) for label in option.labels), option.id)
            for option in options
            if option.labels
        ),
        reverse=True,
    )
    if not scored or scored[0][0] < FUZZY_CUTOFF:
        return None
    if len(scored) > 1 and scored[0][0] - scored[1][0] <= TIE_MARGIN:
        return None
    return scored[0][1]


def match_choice(text: str, options: list[ChoiceOption]) -> str | None:
    """The id of the option ``text`` selects, or None if unclear.

    Tries, in order: a 1-based number ("2", "2.", "#2"); an exact label in any translation;
    a yes/no word (en/es/ru/hi) for the single option of that kind; a fuzzy label match
    that is clearly better than every other option.
    """
    if not options:
        return None
    if _NUMBER.fullmatch(_number_text(text)):
        return _by_number(text, options)
    norm = normalize(text)
    if not norm:
        return None
    exact = [o for o in options if norm in {normalize(label) for label in o.labels}]
    if exact:
        return _unique(exact)
    kind = _yes_no_kind(norm)
    if kind is not None:
        return _unique([o for o in options if o.kind == kind])
    return _fuzzy(norm, options)
