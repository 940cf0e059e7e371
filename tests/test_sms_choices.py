"""Reply-to-option matching (bot/channels/sms_choices.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.channels.sms_choices import ChoiceOption, match_choice, normalize

SUBJECTS = [
    ChoiceOption("math", ("Math", "Matemáticas", "Математика", "गणित")),
    ChoiceOption("science", ("Science", "Ciencias", "Естествознание", "विज्ञान")),
    ChoiceOption("history", ("History", "Historia", "История", "इतिहास")),
]
CONFIRM = [
    ChoiceOption("confirm", ("Yes, book it", "Sí, resérvalo"), kind="yes"),
    ChoiceOption("decline", ("No, not now", "No, ahora no"), kind="no"),
    ChoiceOption("later", ("Remind me later", "Recuérdamelo luego")),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", "math"),
        ("2", "science"),
        ("3", "history"),
        (" 1 ", "math"),
        ("1.", "math"),
        ("#2", "science"),
        ("# 3", "history"),
        ("2)", "science"),
        ("२", "science"),  # Devanagari digit
        ("3\ufe0f\u20e3", "history"),  # keycap emoji 3️⃣
        ("0", None),
        ("4", None),
        ("12", None),
        ("-1", None),
        ("1 2", None),
    ],
)
def test_numbers_are_one_based_positions(text: str, expected: str | None) -> None:
    assert match_choice(text, SUBJECTS) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("math", "math"),
        ("MATH!", "math"),
        ("matematicas", "math"),
        ("Matemáticas.", "math"),
        ("математика", "math"),
        ("गणित", "math"),
        ("  Science  ", "science"),
        ("CIENCIAS", "science"),
        ("विज्ञान", "science"),
        ("история", "history"),
        ("Historia 📚", "history"),
    ],
)
def test_labels_in_any_translation(text: str, expected: str) -> None:
    assert match_choice(text, SUBJECTS) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("scince", "science"),
        ("sciense", "science"),
        ("hitsory", "history"),
        ("matematica", "math"),
        ("chemistry", None),
        ("histry", "history"),
    ],
)
def test_small_typos_are_forgiven(text: str, expected: str | None) -> None:
    assert match_choice(text, SUBJECTS) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("y", "confirm"),
        ("Yes", "confirm"),
        ("YES!!", "confirm"),
        ("yeah", "confirm"),
        ("yep", "confirm"),
        ("ok", "confirm"),
        ("Sí", "confirm"),
        ("si", "confirm"),
        ("claro", "confirm"),
        ("да", "confirm"),
        ("Да!", "confirm"),
        ("ага", "confirm"),
        ("हाँ", "confirm"),
        ("हां", "confirm"),
        ("haan", "confirm"),
        ("ji", "confirm"),
        ("yesss", "confirm"),
        ("yes please", "confirm"),
        ("да, спасибо", "confirm"),
        ("n", "decline"),
        ("no", "decline"),
        ("NO.", "decline"),
        ("nope", "decline"),
        ("нет", "decline"),
        ("नहीं", "decline"),
        ("nahi", "decline"),
        ("no gracias", "decline"),
        ("nooo", "decline"),
        ("no thanks", "decline"),
        ("Yes, book it", "confirm"),
        ("no ahora no", "decline"),
        ("remind me later", "later"),
        ("remind me latr", "later"),
        ("3", "later"),
    ],
)
def test_yes_no_words_map_to_the_option_of_that_kind(text: str, expected: str) -> None:
    assert match_choice(text, CONFIRM) == expected


def test_yes_without_a_yes_option_is_none() -> None:
    assert match_choice("yes", SUBJECTS) is None
    assert match_choice("нет", SUBJECTS) is None


def test_two_yes_options_are_ambiguous() -> None:
    options = [
        ChoiceOption("a", ("Yes, today",), kind="yes"),
        ChoiceOption("b", ("Yes, tomorrow",), kind="yes"),
    ]
    assert match_choice("yes", options) is None
    assert match_choice("yes today", options) == "a"


def test_shared_label_is_ambiguous() -> None:
    options = [ChoiceOption("a", ("Essay",)), ChoiceOption("b", ("Essay", "Ensayo"))]
    assert match_choice("essay", options) is None
    assert match_choice("ensayo", options) == "b"


def test_fuzzy_tie_between_two_options_is_none() -> None:
    options = [ChoiceOption("a", ("Chapter 1",)), ChoiceOption("b", ("Chapter 2",))]
    assert match_choice("chapter", options) is None
    assert match_choice("chapter 2", options) == "b"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "?!",
        "🙏",
        "asdf",
        "qwerty",
        "I don't know",
        "maybe",
        "lol",
        "x",
        "what is this",
        "математик физика",
    ],
)
def test_garbage_is_none(text: str) -> None:
    assert match_choice(text, SUBJECTS) is None
    assert match_choice(text, CONFIRM) is None


def test_no_options_is_none() -> None:
    assert match_choice("1", []) is None


def test_normalize_keeps_scripts_intact() -> None:
    assert normalize("Sí, ¡CLARO!") == "si claro"
    assert normalize("Ещё") == "еще"
    assert normalize("हाँ") == normalize("हां")
    assert normalize("йод") == "йод"  # Cyrillic й is a letter, not an accented и


@settings(max_examples=200)
@given(st.text(max_size=40))
def test_result_is_none_or_an_offered_id(text: str) -> None:
    assert match_choice(text, SUBJECTS) in {None, "math", "science", "history"}
