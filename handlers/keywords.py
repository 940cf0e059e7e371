"""Compliance keyword detection for inbound messages, channel-neutral and pure.

Run on every inbound message *before* the LLM. A message is a keyword only when the whole
message is the keyword or a plain opt-out request, optionally wrapped in courtesy words,
punctuation and emoji: "STOP 🙏" and "please stop texting me" are opt-outs, "I can't stop
worrying about my test" is not. Text is normalized (casefold, Latin accents and punctuation
dropped, ё→е) before matching, so the data below is written lower-case without accents on
Latin letters (Cyrillic й stays й). Whether YES re-opts-in (only for an opted-out number)
is the caller's call.
"""

from __future__ import annotations

import re
from enum import Enum
from functools import cache

from core.text import fold_for_matching


class Keyword(Enum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    PAUSE = "pause"


# fmt: off
KEYWORDS: dict[Keyword, tuple[str, ...]] = {
    Keyword.OPT_OUT: (
        # Twilio/CTIA defaults (REVOKE, OPTOUT added 2025)
        "stop", "stopall", "stop all", "unsubscribe", "cancel", "end", "quit", "revoke",
        "optout", "opt out", "stop it", "stop everything", "stop texting", "stop messaging",
        # es
        "alto", "parar", "detener", "cancelar", "baja", "no mas", "darme de baja", "dar de baja",
        # ru
        "стоп", "отписаться", "отписка", "хватит", "не пишите", "не пишите мне", "отпишите меня",
        # hi (Devanagari and romanized)
        "बंद", "रोकें", "रुको", "रोको", "बंद करो", "बंद करें", "बंद कीजिए", "मैसेज बंद करो",
        "band karo", "ruko", "roko",
    ),
    Keyword.OPT_IN: ("start", "unstop", "yes", "старт"),
    Keyword.HELP: ("help", "info", "ayuda", "помощь", "मदद"),
    Keyword.PAUSE: ("pause", "pausa", "пауза"),
}

# Courtesy words stripped from both ends before matching ("STOP please", "por favor, baja").
COURTESY_WORDS: tuple[str, ...] = (
    "please", "pls", "plz", "now", "thanks", "thank you", "thx", "ok", "okay", "just",
    "por favor", "porfa", "gracias", "ya", "ahora",
    "пожалуйста", "спасибо", "плиз", "уже",
    "कृपया", "धन्यवाद", "जी", "ji", "plz ji", "abhi", "अभी",
)

_MSGS_EN = r"(?:text|texts|text messages|messages|msgs|sms|sms messages|these|this|notifications)"
_VERB_EN = r"(?:text|txt|message|msg|sms|contact|send|email|write|bother)"
_MSGS_ES = r"(?:mensajes|textos|sms|mensajes de texto)"
_VERB_ES = r"(?:escriban|escribas|escriba|manden|mandes|envien|envies|contacten|molesten)"
_VERB_RU = r"(?:писать|присылать|слать|отправлять|сообщать)"
_MSGS_HI = r"(?:मैसेज|मेसेज|संदेश|एसएमएस|message|messages|msg|sms)"

# Plain-language opt-out requests, matched against the whole normalized message.
OPT_OUT_PATTERNS: tuple[str, ...] = (
    rf"(?:stop|quit|cease) (?:texting|txting|messaging|msging|contacting|spamming|sending)"
    rf"(?: me)?(?: (?:any|these|this|the|your|those))?(?: {_MSGS_EN})?(?: anymore| any more)?",
    rf"(?:dont|do not|never) {_VERB_EN}(?: me)?(?: (?:any|these|this|more|your|those))?"
    rf"(?: {_MSGS_EN})?(?: anymore| any more| again| ever again)?",
    r"unsubscribe(?: me)?(?: (?:from|of) (?:this|these|the|your|all)"
    r"(?: (?:list|texts|messages|sms|program))?)?",
    r"(?:take|remove|delete|drop) me (?:off|from|out of)(?: (?:this|the|your|these|all|ur))?"
    r"(?: (?:list|texts|messages|sms|program|number list|mailing list))?",
    r"(?:remove|delete) me",
    r"(?:opt|sign) me out(?: of (?:this|these|the|all|texts|messages))?",
    rf"no more {_MSGS_EN}",
    rf"i (?:dont|do not) want (?:any more |more |these |your |to (?:get|receive) )?{_MSGS_EN}"
    r"(?: anymore| any more)?",
    rf"i (?:want|would like|wanna|need) to (?:unsubscribe|opt out|stop (?:getting|receiving)"
    rf"(?: (?:these|your|the|any))?(?: {_MSGS_EN})?)",
    r"leave me alone",
    # es
    rf"(?:ya )?no me {_VERB_ES}(?: mas)?(?: {_MSGS_ES})?(?: mas)?",
    rf"(?:dejen|deja|dejan|paren|para) de (?:escribirme|enviarme|mandarme|molestarme|"
    rf"contactarme)(?: {_MSGS_ES})?(?: mas)?",
    rf"no (?:quiero|deseo) (?:recibir )?(?:mas )?{_MSGS_ES}(?: mas)?",
    rf"no mas {_MSGS_ES}",
    r"(?:quiero |por favor )?dar(?:me)? de baja",
    # ru
    rf"(?:перестаньте|перестань|хватит|прекратите|прекрати) (?:мне )?{_VERB_RU}(?: мне)?"
    r"(?: (?:сообщения|смс|sms))?",
    r"(?:больше )?(?:не|не надо) (?:пишите|пиши|присылайте|присылай|писать)(?: мне)?"
    r"(?: больше)?(?: (?:сообщения|смс))?",
    r"(?:хочу |я хочу )?отписаться(?: от (?:рассылки|сообщений|смс))?",
    # hi
    rf"(?:मुझे |mujhe )?{_MSGS_HI}(?: भेजना| bhejna)? (?:बंद करो|बंद करें|बंद कीजिए|मत भेजो|"
    r"मत भेजिए|मत भेजें|मत करो|band karo|band karen|mat bhejo|mat bhejiye|mat karo)",
    r"(?:मुझे |mujhe )?(?:मत भेजो|मत भेजिए|mat bhejo|mat bhejiye)",
)

# fmt: on


def normalize(text: str) -> str:
    """Casefold; drop apostrophes, Latin accents, punctuation, symbols and emoji."""
    return fold_for_matching(text, drop_apostrophes=True)


@cache
def _phrase_table() -> dict[str, Keyword]:
    return {normalize(p): kw for kw, phrases in KEYWORDS.items() for p in phrases}


@cache
def _courtesy() -> tuple[str, ...]:
    # Longest first so "thank you" is stripped as a whole.
    return tuple(sorted({normalize(w) for w in COURTESY_WORDS}, key=len, reverse=True))


@cache
def _opt_out_regex() -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in OPT_OUT_PATTERNS))


def _strip_courtesy(phrase: str) -> str:
    changed = True
    while changed and phrase:
        changed = False
        for word in _courtesy():
            if phrase.startswith(word + " ") or phrase.endswith(" " + word):
                phrase = phrase.removeprefix(word + " ").removesuffix(" " + word)
                changed = True
    return phrase


def _dedupe_repeats(phrase: str) -> str:
    """ "stop stop stop" -> "stop"."""
    tokens = phrase.split()
    return " ".join(t for i, t in enumerate(tokens) if i == 0 or t != tokens[i - 1])


def classify(text: str) -> Keyword | None:
    """The compliance keyword ``text`` is, or None for an ordinary message."""
    phrase = _dedupe_repeats(_strip_courtesy(normalize(text)))
    if not phrase:
        return None
    keyword = _phrase_table().get(phrase)
    if keyword is not None:
        return keyword
    return Keyword.OPT_OUT if _opt_out_regex().fullmatch(phrase) else None
