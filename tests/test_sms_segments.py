"""Segment counting and shortening (bot/channels/sms_segments.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.channels.sms_segments import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    SegmentInfo,
    fit_segments,
    is_gsm7,
    segment_info,
)

EMOJI = "🎉"  # outside the BMP: a surrogate pair, 2 UTF-16 units


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", SegmentInfo("GSM-7", 0, 1)),
        ("a" * 160, SegmentInfo("GSM-7", 160, 1)),
        ("a" * 161, SegmentInfo("GSM-7", 161, 2)),
        ("a" * 306, SegmentInfo("GSM-7", 306, 2)),
        ("a" * 307, SegmentInfo("GSM-7", 307, 3)),
        ("a" * 459, SegmentInfo("GSM-7", 459, 3)),
        ("a" * 460, SegmentInfo("GSM-7", 460, 4)),
        ("ж" * 70, SegmentInfo("UCS-2", 70, 1)),
        ("ж" * 71, SegmentInfo("UCS-2", 71, 2)),
        ("ж" * 134, SegmentInfo("UCS-2", 134, 2)),
        ("ж" * 135, SegmentInfo("UCS-2", 135, 3)),
        ("ж" * 201, SegmentInfo("UCS-2", 201, 3)),
        ("ж" * 202, SegmentInfo("UCS-2", 202, 4)),
    ],
)
def test_boundaries(text: str, expected: SegmentInfo) -> None:
    assert segment_info(text) == expected


def test_euro_costs_two_septets_and_stays_gsm7() -> None:
    assert segment_info("€" * 80) == SegmentInfo("GSM-7", 160, 1)
    assert segment_info("€" * 80 + "a") == SegmentInfo("GSM-7", 161, 2)


@pytest.mark.parametrize("ch", sorted(GSM7_EXTENSION - {"\f"}))
def test_every_extension_char_costs_two(ch: str) -> None:
    assert segment_info("a" + ch) == SegmentInfo("GSM-7", 3, 1)


def test_escape_pair_is_never_split_across_parts() -> None:
    # 152 septets then "€" (2): the pair does not fit in part one's last slot.
    text = "a" * 152 + "€" + "a" * 152
    info = segment_info(text)
    assert info.units == 306
    assert info.segments == 3  # 306 units would fit 2 parts if the pair could be split


def test_surrogate_pair_is_never_split_across_parts() -> None:
    text = "ж" * 66 + EMOJI + "ж" * 66
    info = segment_info(text)
    assert info == SegmentInfo("UCS-2", 134, 3)


@pytest.mark.parametrize("ch", ["í", "á", "ó", "ú", "’", "ç", EMOJI])
def test_one_non_gsm_char_flips_the_whole_message(ch: str) -> None:
    info = segment_info("a" * 69 + ch)
    assert info.encoding == "UCS-2"
    assert info.segments == (2 if ch == EMOJI else 1)


@pytest.mark.parametrize("ch", ["é", "ñ", "ü", "¿", "¡", "à", "Ç", "£", "\n"])
def test_latin_letters_that_are_gsm7(ch: str) -> None:
    assert is_gsm7(ch)


def test_emoji_counts_two_units() -> None:
    assert segment_info(EMOJI) == SegmentInfo("UCS-2", 2, 1)
    assert segment_info("a" * 68 + EMOJI).segments == 1
    assert segment_info("a" * 69 + EMOJI).segments == 2


NOTES_TABLE = [
    # (sample, chars, encoding, segments, units) — the table in shared/notes/sms.md §9
    (
        "Hi Maya! Quick check-in from your mentor: you planned 20 minutes of algebra today. "
        "Reply DONE when finished, or HELP for help.",
        126,
        "GSM-7",
        1,
        126,
    ),
    (
        "¡Hola Mia! Tu mentor te recuerda: hoy es buen día para 20 minutos de algebra. "
        "Responde LISTO al terminar o AYUDA si la pides.",
        125,
        "UCS-2",
        2,
        125,
    ),
    (
        "Hola Mia! Tu mentor te recuerda: hoy es buen dia para 20 minutos de algebra. "
        "Responde LISTO al terminar o AYUDA si la pides.",
        124,
        "GSM-7",
        1,
        124,
    ),
    (
        "Don’t forget: your essay outline is due Friday. Reply DONE when you're done.",
        76,
        "UCS-2",
        2,
        76,
    ),
    ("Great job finishing your reading log this week, Maya! Wow! 🎉", 60, "UCS-2", 1, 61),
    (
        "नमस्ते माया! आपके मेंटर की याद: आज आपने 20 मिनट बीजगणित की योजना बनाई थी। पूरा होने पर DONE लिखो",
        96,
        "UCS-2",
        2,
        96,
    ),
    (
        "Привет, Майя! Напоминание от наставника: сегодня ты планировала 20 минут алгебры. "
        "Ответь ГОТОВО, как закончишь.",
        111,
        "UCS-2",
        2,
        111,
    ),
]


@pytest.mark.parametrize(("text", "chars", "encoding", "segments", "units"), NOTES_TABLE)
def test_notes_table(text: str, chars: int, encoding: str, segments: int, units: int) -> None:
    assert len(text) == chars
    assert segment_info(text) == SegmentInfo(encoding, units, segments)  # type: ignore[arg-type]


gsm_text = st.text(alphabet=sorted(GSM7_BASIC | GSM7_EXTENSION), max_size=700)
any_text = st.text(max_size=400)


@settings(max_examples=200)
@given(any_text)
def test_segments_bound_the_units(text: str) -> None:
    info = segment_info(text)
    single, part = (160, 153) if info.encoding == "GSM-7" else (70, 67)
    if info.units <= single:
        assert info.segments == 1
    else:
        # Ceil-division lower bound; at most one wasted slot per part from unsplittable pairs.
        assert -(-info.units // part) <= info.segments <= -(-info.units // (part - 1))


@settings(max_examples=200)
@given(gsm_text)
def test_gsm_text_is_counted_in_septets(text: str) -> None:
    info = segment_info(text)
    assert info.encoding == "GSM-7"
    assert info.units == len(text) + sum(ch in GSM7_EXTENSION for ch in text)


# --- fit_segments ------------------------------------------------------------------------

LINK = "https://mb.example/r/abc123"


def test_fitting_text_is_returned_unchanged() -> None:
    text = "word " * 90  # 450 chars: 3 GSM-7 segments
    assert fit_segments(text.strip(), 3, LINK) == text.strip()


def test_long_gsm_text_is_cut_at_a_word_with_three_dots_and_link() -> None:
    text = " ".join(f"word{i}" for i in range(200))
    out = fit_segments(text, 2, LINK)
    assert out.endswith("... " + LINK)
    head = out.removesuffix("... " + LINK)
    assert text.startswith(head)
    assert text[len(head)] == " "  # cut at a word boundary
    info = segment_info(out)
    assert info.encoding == "GSM-7"
    assert info.segments <= 2
    assert info.units > 306 - 12  # uses the budget, not just a little of it


def test_non_gsm_tail_is_dropped_without_flipping_encoding() -> None:
    text = "a " * 150 + "día más"
    out = fit_segments(text, 2)
    assert out.endswith("...")
    assert segment_info(out).encoding == "GSM-7"


def test_unicode_text_uses_the_single_char_ellipsis() -> None:
    text = " ".join(["привет"] * 60)
    out = fit_segments(text, 2, LINK)
    assert out.endswith("… " + LINK)
    assert segment_info(out).segments <= 2


def test_single_long_word_is_cut_between_characters() -> None:
    out = fit_segments("x" * 1000, 1)
    assert out == "x" * 157 + "..."


def test_link_that_cannot_fit_raises() -> None:
    with pytest.raises(ValueError, match="cannot fit"):
        fit_segments("a " * 200, 1, "https://x.example/" + "a" * 200)
    with pytest.raises(ValueError, match="max_segments"):
        fit_segments("hello", 0)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.sampled_from(["study", "día", "mañana", "урок", "पढ़ाई", EMOJI, "€", "ok"]),
        min_size=1,
        max_size=250,
    ),
    st.integers(min_value=1, max_value=4),
)
def test_fit_segments_always_fits(words: list[str], max_segments: int) -> None:
    text = " ".join(words)
    out = fit_segments(text, max_segments, LINK)
    assert segment_info(out).segments <= max_segments
    if out != text:
        assert out.endswith(LINK)
