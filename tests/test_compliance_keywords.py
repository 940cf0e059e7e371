"""Compliance keyword classification (handlers/keywords.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handlers.keywords import KEYWORDS, Keyword, classify, normalize

OUT, IN, HELP, PAUSE = Keyword.OPT_OUT, Keyword.OPT_IN, Keyword.HELP, Keyword.PAUSE

TABLE: list[tuple[str, Keyword | None]] = [
    # --- carrier keywords, any case, with punctuation / emoji / courtesy words
    ("STOP", OUT),
    ("stop", OUT),
    ("Stop", OUT),
    ("stop.", OUT),
    ("Stop!", OUT),
    ("STOP 🙏", OUT),
    ("  stop  ", OUT),
    ("STOP STOP STOP", OUT),
    ("STOP PLEASE", OUT),
    ("please stop", OUT),
    ("stop now!!", OUT),
    ("STOPALL", OUT),
    ("stop all", OUT),
    ("UNSUBSCRIBE", OUT),
    ("Cancel", OUT),
    ("END", OUT),
    ("quit", OUT),
    ("REVOKE", OUT),
    ("OPTOUT", OUT),
    ("opt-out", OUT),
    ("Opt out", OUT),
    ("«STOP»", OUT),
    ("stop, thanks", OUT),
    # --- Spanish
    ("ALTO", OUT),
    ("parar", OUT),
    ("Detener", OUT),
    ("CANCELAR", OUT),
    ("baja", OUT),
    ("no más", OUT),
    ("No mas", OUT),
    ("no más, gracias", OUT),
    ("no me escriban más", OUT),
    ("Ya no me escriban", OUT),
    ("dejen de enviarme mensajes", OUT),
    ("no quiero recibir más mensajes", OUT),
    ("quiero darme de baja", OUT),
    ("por favor, no me manden mensajes", OUT),
    # --- Russian
    ("СТОП", OUT),
    ("стоп!", OUT),
    ("ОТПИСАТЬСЯ", OUT),
    ("отписка", OUT),
    ("Хватит", OUT),
    ("не пишите", OUT),
    ("Не пишите мне больше", OUT),
    ("перестаньте мне писать", OUT),
    ("Перестаньте присылать сообщения, пожалуйста", OUT),
    ("больше не присылайте смс", OUT),
    ("хочу отписаться", OUT),
    # --- Hindi
    ("बंद", OUT),
    ("रोकें", OUT),
    ("रुको", OUT),
    ("बंद करो", OUT),
    ("मैसेज बंद करो", OUT),
    ("कृपया मैसेज बंद करें", OUT),
    ("मुझे मैसेज मत भेजो", OUT),
    ("message band karo", OUT),
    # --- plain English
    ("stop texting me", OUT),
    ("Please stop sending me messages", OUT),
    ("please stop sending me these texts!", OUT),
    ("Stop messaging me.", OUT),
    ("unsubscribe me", OUT),
    ("Unsubscribe me from this list please", OUT),
    ("take me off this list", OUT),
    ("Take me off your list", OUT),
    ("remove me", OUT),
    ("remove me from this list", OUT),
    ("don't text me anymore", OUT),
    ("Do not text me", OUT),
    ("dont message me again", OUT),
    ("no more texts", OUT),
    ("I don't want these messages", OUT),
    ("I want to unsubscribe", OUT),
    ("i want to stop receiving texts", OUT),
    ("opt me out", OUT),
    ("leave me alone", OUT),
    # --- opt-in, help, pause
    ("START", IN),
    ("start", IN),
    ("Unstop", IN),
    ("YES", IN),
    ("yes!", IN),
    ("yes please", IN),
    ("HELP", HELP),
    ("help?", HELP),
    ("INFO", HELP),
    ("Ayuda", HELP),
    ("ПОМОЩЬ", HELP),
    ("मदद", HELP),
    ("PAUSE", PAUSE),
    ("pausa", PAUSE),
    ("Пауза", PAUSE),
    # --- ordinary messages that merely contain a keyword: NOT keywords
    ("I can't stop worrying about my test", None),
    ("what time does class end?", None),
    ("how do I stop procrastinating", None),
    ("Cancel my tutoring session tomorrow", None),
    ("can you help me with fractions", None),
    ("I need help with my essay", None),
    ("info about the exam?", None),
    ("don't stop believing", None),
    ("the bus stop", None),
    ("stopwatch", None),
    ("I want to quit smoking", None),
    ("end of the semester", None),
    ("yes I finished the reading", None),
    ("no", None),
    ("no más tarea por hoy", None),
    ("не могу остановиться", None),
    ("хватит на сегодня уроков?", None),
    ("मेरी क्लास बंद है", None),
    ("let's start the quiz", None),
    ("pause the video?", None),
    ("band", None),
    ("send me the notes", None),
    ("stop by my office", None),
    ("", None),
    ("   ", None),
    ("🙏", None),
    ("?!", None),
]


def test_table_is_large_enough() -> None:
    positives = sum(expected is not None for _, expected in TABLE)
    negatives = sum(expected is None for _, expected in TABLE)
    assert positives >= 40
    assert negatives >= 20


@pytest.mark.parametrize(("text", "expected"), TABLE)
def test_classify(text: str, expected: Keyword | None) -> None:
    assert classify(text) is expected


@pytest.mark.parametrize(
    ("keyword", "phrase"),
    [(kw, phrase) for kw, phrases in KEYWORDS.items() for phrase in phrases],
)
def test_every_listed_phrase_classifies_as_its_keyword(keyword: Keyword, phrase: str) -> None:
    assert classify(phrase) is keyword
    assert classify(phrase.upper() + "!") is keyword


def test_normalize() -> None:
    assert normalize("¡NO MÁS!") == "no mas"
    assert normalize("Don’t text me 🙏") == "dont text me"
    assert normalize("ЕЩЁ") == "еще"


@settings(max_examples=200)
@given(st.text(alphabet=st.characters(categories=["L", "N"]), min_size=1, max_size=20))
def test_stop_inside_a_longer_sentence_is_not_an_opt_out(word: str) -> None:
    # Gibberish around "stop" never makes a whole-message opt-out.
    sentence = f"i could not stop {word} {word} yesterday at school"
    assert classify(sentence) is None
