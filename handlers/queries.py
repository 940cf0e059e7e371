"""Students' questions: an approved answer, an honest "not sure", or a human on request.

Pure: the knowledge base is handed in with the turn. An answer asks "Did this help?"; the
answer to that is stored per entry (effects), and a "No" offers a mentor. Asking for a human
("talk to a human", "хочу поговорить с человеком", …) raises an escalation.
"""

from __future__ import annotations

import re
from functools import cache

from core.i18n import Gettext
from core.messages import Choice, Reply
from core.text import fold_for_matching
from handlers.escalation import escalate
from handlers.flow import Effect, Turn
from handlers.knowledge import Entry
from handlers.retrieval import Match

HELPFUL_YES, HELPFUL_NO, ASK_MENTOR = "kb_yes", "kb_no", "mentor"

# fmt: off
# Requests for a person, matched against the whole folded message (accents and punctuation
# dropped, so "¿puedo hablar con un humano?" folds to "puedo hablar con un humano").
_HUMAN = r"(?:human|humans|person|real person|someone real|mentor|coach|advisor|adviser|staff)"
HUMAN_REQUEST_PATTERNS: tuple[str, ...] = (
    rf"(?:i )?(?:want|wanna|need|would like|d like) (?:to )?(?:talk|speak|chat) (?:to|with)"
    rf" (?:a |an |my |the )?{_HUMAN}(?: please| pls| now)?",
    rf"(?:can|could|may) i (?:talk|speak|chat) (?:to|with) (?:a |an |my |the )?{_HUMAN}"
    r"(?: please| pls)?",
    rf"(?:talk|speak|chat|connect me) (?:to|with) (?:a |an |my |the )?{_HUMAN}(?: please| pls)?",
    rf"(?:get|give|put) me (?:a |an |my |the |through to (?:a |an |my |the )?)?{_HUMAN}"
    r"(?: please| pls)?",
    r"(?:are you|is this) a (?:bot|robot|real person|human)",
    rf"(?:i )?(?:want|need) (?:a |an |my )?{_HUMAN}(?: please| pls)?",
    # es
    r"(?:quiero|necesito|puedo|podria|me gustaria) (?:hablar|charlar) con"
    r" (?:un |una |mi |el |la )?"
    r"(?:humano|persona|persona real|mentor|mentora|tutor|tutora|asesor|asesora|alguien)"
    r"(?: real)?(?: por favor)?",
    r"(?:hablar|comunicarme) con (?:un |una |mi )?(?:humano|persona|mentor|mentora|asesor)"
    r"(?: real)?(?: por favor)?",
    r"(?:quiero|necesito) (?:un |una |mi )?(?:humano|persona real|mentor|mentora)"
    r"(?: por favor)?",
    # ru
    r"(?:я )?(?:хочу|можно|нужно|надо|могу) (?:поговорить|пообщаться|связаться|говорить)"
    r" (?:с )?(?:человеком|живым человеком|ментором|наставником|куратором|оператором|"
    r"кем-то живым|кем то живым)(?: пожалуйста)?",
    r"(?:позовите|дайте|соедините с) (?:человека|ментора|наставника|куратора|оператора|"
    r"ментором|наставником|куратором|оператором|человеком)(?: пожалуйста)?",
    r"(?:свяжите меня|соедините меня) с (?:человеком|ментором|наставником|куратором)",
    # hi (Devanagari and romanized)
    r"(?:मुझे |मैं )?(?:किसी )?(?:इंसान|मेंटर|मेन्टर|व्यक्ति|असली इंसान|किसी इंसान|किसी व्यक्ति)"
    r" से बात (?:करनी है|करना है|करना चाहता हूं|करना चाहती हूं|करना चाहता हूँ|करना चाहती हूँ|"
    r"कराओ|कराइए|करवाओ)",
    r"(?:mujhe |main )?(?:kisi )?(?:insaan|insan|mentor|human|vyakti|asli insaan)"
    r" se baat (?:karni hai|karna hai|karna chahta hu|karna chahti hu|karna chahta hoon|"
    r"karna chahti hoon|karao|karwao|krni h|krna h)",
)
# fmt: on

GREETINGS = frozenset(
    {
        "hi", "hello", "hey", "hiya", "yo", "good morning", "good evening", "hola",
        "buenas", "buenos dias", "buenas tardes", "привет", "здравствуйте", "добрый день",
        "नमस्ते", "नमस्कार", "namaste", "hii", "helo",
    }
)
# "ok" after an answer is no question: it must not count towards "not sure" (nor a mentor).
ACKNOWLEDGEMENTS = frozenset(
    {
        "ok", "okay", "k", "kk", "yes", "yeah", "yep", "no", "nope", "sure", "cool", "got it",
        "alright", "fine", "si", "vale", "claro", "bueno", "de acuerdo", "да", "нет", "ок",
        "хорошо", "ладно", "понятно", "हाँ", "हां", "नहीं", "ठीक है", "अच्छा", "haan", "han",
        "nahi", "theek hai", "thik hai", "acha", "accha",
    }
)
THANKS = frozenset(
    {
        "thanks", "thank you", "thx", "ty", "thanks a lot", "ok thanks", "gracias",
        "muchas gracias", "спасибо", "спс", "धन्यवाद", "शुक्रिया", "thanku", "dhanyavad",
        "shukriya",
    }
)


@cache
def _human_regex() -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in HUMAN_REQUEST_PATTERNS))


def wants_human(text: str) -> bool:
    phrase = fold_for_matching(text, drop_apostrophes=True)
    return bool(phrase) and len(phrase) < 120 and bool(_human_regex().fullmatch(phrase))


def small_talk(text: str) -> str | None:
    """'greeting', 'thanks' or 'ack' for a message that is only that (or has no words at all,
    like a number or an emoji); None for anything that may be a question."""
    phrase = fold_for_matching(text, drop_apostrophes=True)
    if phrase in GREETINGS:
        return "greeting"
    if phrase in THANKS:
        return "thanks"
    if phrase in ACKNOWLEDGEMENTS or not any(ch.isalpha() for ch in phrase):
        return "ack"
    return None


def answer_text(t: Gettext, entry: Entry) -> str:
    if entry.link:
        return entry.answer.strip() + "\n" + t._("More: {link}", link=entry.link)
    return entry.answer.strip()


def answer_replies(t: Gettext, match: Match) -> tuple[Reply, ...]:
    """The approved answer, then "Did this help?" with Yes / No."""
    ask = Reply(
        t._("Did this help?"),
        (Choice(HELPFUL_YES, t._("Yes")), Choice(HELPFUL_NO, t._("No"))),
    )
    return (Reply(answer_text(t, match.entry)), ask)


def not_sure_reply(t: Gettext) -> Reply:
    text = t._(
        "I'm not sure I can answer that correctly, and I'd rather not guess. "
        "A mentor can help: tap the button or type /mentor. You can also ask me another way."
    )
    return Reply(text, (Choice(ASK_MENTOR, t._("Talk to a mentor")),))


def record_answer(match: Match | None, confidence: float) -> Effect:
    entry_id = match.entry.id if match else None
    return Effect("record_answer", {"entry_id": entry_id, "confidence": confidence})


def feedback(turn: Turn) -> tuple[tuple[Reply, ...], tuple[Effect, ...]]:
    """The student answered "Did this help?": store it; a No brings in a mentor."""
    t, helpful = turn.t, turn.choice_id == HELPFUL_YES
    stored = Effect(
        "answer_feedback", {"entry_id": turn.data.get("kb_entry"), "helpful": helpful}
    )
    if helpful:
        return (Reply(t._("Great, glad it helped!")),), (stored,)
    sorry = Reply(t._("Sorry it didn't help. I'm asking a mentor to look at your question."))
    return (sorry,), (stored, escalate("not_helpful"))
