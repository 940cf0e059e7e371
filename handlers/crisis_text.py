"""Normalization for crisis matching: one inbound message becomes a few normalized "views".

Students write "su1c1de", "k!ll", "s.u.i.c.i.d.e", "diiiie", mix Latin and Cyrillic look-alikes,
and type Hindi in Latin letters. We never change the stored message: we match a copy, in
several spellings, and a pattern hits if it matches any of them. Over-matching a view costs a
false alarm; a missing view costs a missed crisis.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from functools import lru_cache

from rapidfuzz.distance import OSA
from rapidfuzz.process import extractOne

from core.text import fold_for_matching

# Emoji that stand for means: Crisis Text Line found the pill emoji a strong risk signal.
_EMOJI_WORDS = {"💊": " pills ", "🔪": " knife ", "🔫": " gun ", "🩸": " blood ", "💣": " bomb "}
_EMOJI = re.compile("|".join(_EMOJI_WORDS))
_FORMAT_CHARS = re.compile("[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")  # zero-width
_LATIN_LEET = str.maketrans("013457@$", "oieastas")
_CYRILLIC_LEET = str.maketrans("0346", "озчб")  # "4то" = "что", "3" = "з"
_TO_LATIN = str.maketrans("аеорсхукі", "aeopcxyki")  # Cyrillic look-alikes in a Latin word
_TO_CYRILLIC = str.maketrans("aeopcxyk", "аеорсхук")  # and the reverse
# Only tokens with a digit/symbol or mixed scripts need the per-token pass (most messages skip it).
_NEEDS_TOKEN_FIX = re.compile(r"[0-9@$!|]|[a-z][а-яёі]|[а-яёі][a-z]")
_BANG_AS_I = re.compile(r"(?<=[^\W\d_])[!|](?=[^\W\d_])")  # "k!ll", "k|ll"
_SPELLED_OUT = re.compile(r"(?<![^\W\d_])(?:[^\W\d_][.\-_*]){2,}[^\W\d_](?![^\W\d_])")  # s.u.i.c
_SPACED_OUT = re.compile(r"(?<!\S)(?:[a-z] ){2,}[a-z](?!\S)")  # "k m s"
_IN_WORD_PUNCT = re.compile(r"(?<=[^\W\d_])[-_*'’‘`´~^+](?=[^\W\d_])")  # self-harm, don't, k*ll
_LONG_RUN = re.compile(r"([^\W\d_])\1{2,}")  # "diiiie", "killll"
_NASAL = re.compile(r"[नम]्(?=[क-ह])")  # जिन्दगी == जिंदगी
_DOUBLED = re.compile(r"([a-z])\1+")
_HINGLISH = (("ee", "i"), ("ii", "i"), ("oo", "u"), ("uu", "u"), ("w", "v"), ("z", "j"),
             ("q", "k"), ("ph", "f"))  # fmt: skip
_RU_LATIN = (("shch", "sh"), ("sch", "sh"), ("kh", "h"), ("x", "h"), ("w", "v"), ("y", "i"))


def _script_of(word: str) -> str:
    latin = sum("a" <= ch <= "z" for ch in word)
    cyrillic = sum("а" <= ch <= "я" or ch in "ёі" for ch in word)
    return "latin" if latin > cyrillic else "cyrillic" if cyrillic > latin else "other"


def _fix_token(token: str) -> str:
    """Fold look-alike letters into the token's main script, then undo leetspeak."""
    script = _script_of(token)
    if script == "latin":
        return _BANG_AS_I.sub("i", token.translate(_TO_LATIN)).translate(_LATIN_LEET)
    if script == "cyrillic":
        return token.translate(_TO_CYRILLIC).translate(_CYRILLIC_LEET)
    return token


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _FORMAT_CHARS.sub("", _EMOJI.sub(lambda m: _EMOJI_WORDS[m.group()], text))
    if _NEEDS_TOKEN_FIX.search(text):
        text = " ".join(_fix_token(token) for token in text.split())
    text = _SPELLED_OUT.sub(lambda m: re.sub(r"[.\-_*]", "", m.group()), text)
    text = fold_for_matching(_IN_WORD_PUNCT.sub("", text), drop_apostrophes=True)
    return _NASAL.sub("ं", text.replace("\u093c", ""))  # nukta and nasal spelling variants


def base_views(text: str) -> tuple[str, ...]:
    """The message folded, with elongations cut to one and to two letters, and "k m s" joined."""
    folded = _fold(text)
    views = [_LONG_RUN.sub(r"\1", folded), _LONG_RUN.sub(r"\1\1", folded)]
    views += [_SPACED_OUT.sub(lambda m: m.group().replace(" ", ""), v) for v in views]
    return tuple(dict.fromkeys(views))


def _latin_skeleton(pairs: Iterable[tuple[str, str]]) -> Callable[[str], str]:
    """A skeleton of Latin letters only: the pairs are ASCII, so Devanagari and Cyrillic pass."""
    table = tuple(pairs)

    def skeleton(text: str) -> str:
        for old, new in table:
            text = text.replace(old, new)
        return _DOUBLED.sub(r"\1", text)

    return skeleton


# Romanized Hindi ("jeena"/"jina", "chaahta"/"chahta") and Russian ("hochu"/"khochu") are spelled
# many ways; patterns in those packs are written in skeleton form and run on skeleton views.
SKELETONS: dict[str, Callable[[str], str]] = {
    "none": lambda text: text,
    "hinglish": _latin_skeleton(_HINGLISH),
    "ru_latin": _latin_skeleton(_RU_LATIN),
}


@lru_cache(maxsize=65536)
def _closest(token: str, words: tuple[str, ...]) -> str:
    found = extractOne(token, words, scorer=OSA.distance, score_cutoff=1)
    return found[0] if found else token


def fuzzy_view(view: str, words: tuple[str, ...]) -> str:
    """Replace tokens one edit (or one swap) away from a long stem: "sucide" -> "suicide"."""
    if not words:
        return view
    return " ".join(_closest(t, words) if len(t) >= 5 else t for t in view.split())
