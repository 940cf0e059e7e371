"""Questions asked while a flow waits for something else: answer, then ask again (one turn).

A form with digressions, as Rasa has them. What a waiting state expects keeps its meaning: a
pressed button, a typed choice ("1", "yes", "sí"), anything with digits (a phone number, even a
badly typed one), a shared contact, commands and compliance keywords (handled before this). Only
other text is a candidate: an approved answer when the knowledge base is confident, an honest
"not sure" when it plainly is a question, and otherwise the state's own step decides (it says
what it expected). Inside a flow the answer does not ask "Did this help?": the flow's question
is the one pending, and two questions at once confuse on SMS.
"""

from __future__ import annotations

import re

from core.messages import Reply
from core.text import fold_for_matching
from handlers.flow import Flow, Step, Turn
from handlers.queries import answer_text, record_answer

_DIGITS = re.compile(r"\d")
# fmt: off
QUESTION_WORDS = frozenset({
    "what", "whats", "where", "when", "why", "how", "who", "which", "can", "could", "do",
    "does", "is", "are", "will", "should", "que", "donde", "cuando", "por", "como", "cual",
    "quien", "puedo", "puede", "hay", "что", "где", "когда", "почему", "зачем", "как", "кто",
    "какой", "какая", "можно", "क्या", "कहाँ", "कहां", "कब", "क्यों", "कैसे", "कौन", "kya",
    "kahan", "kab", "kyu", "kyun", "kaise", "kaun",
})
# fmt: on


def looks_like_question(text: str) -> bool:
    if text.rstrip().endswith(("?", "？")) or text.lstrip().startswith("¿"):
        return True
    words = fold_for_matching(text, drop_apostrophes=True).split()
    return bool(words) and words[0] in QUESTION_WORDS


def is_candidate(turn: Turn) -> bool:
    text = turn.text
    if turn.choice_id or turn.inbound.contact_phone or not text or text.startswith("/"):
        return False
    return len(_DIGITS.findall(text)) < 3


def digression(turn: Turn, flow: Flow, state: str) -> Step | None:
    """Replies (answer + the state's question again) and effects, or None to run the step."""
    reask = flow.reask(state)
    answered = answer_before_a_question(turn) if reask is not None else None
    if reask is None or answered is None:
        return None
    return Step("digression", (*answered.replies, *reask(turn)), answered.effects)


def answer_before_a_question(turn: Turn) -> Step | None:
    """The answer alone (no "Did this help?"), for a message a flow's question follows; None
    when the message is no question for the knowledge base."""
    if not is_candidate(turn):
        return None
    knowledge, person = turn.knowledge, turn.person
    match = knowledge.best(turn.text, person.locale, person.program) if knowledge else None
    if knowledge and match and knowledge.confident(match):
        answer = Reply(answer_text(turn.t, match.entry))
        return Step("digression", (answer,), (record_answer(match, match.confidence),))
    if looks_like_question(turn.text):
        text = turn.t._(
            "I'm not sure about that one. A mentor can help with it: type /mentor at any time."
        )
        confidence = match.confidence if match else 0.0
        return Step("digression", (Reply(text),), (record_answer(None, confidence),))
    return None
