"""The nudge catalog: template choice, optional lines, and complete es/hi/ru translations."""

from __future__ import annotations

import gettext
import string
from io import BytesIO
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_file
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from scheduler import catalog as catalog_module
from scheduler.catalog import (
    BANDED_SCENARIOS,
    SCENARIOS,
    TEMPLATES,
    Msg,
    Plural,
    Template,
    Tone,
    pick_template,
    render,
    render_button,
)
from scheduler.personas import Engagement, Performance

ROOT = Path(__file__).resolve().parent.parent
PLURAL_COUNTS = {"es": 2, "hi": 2, "ru": 3}
COUNTS = (0, 1, 2, 5, 11, 21, 1_000_000)
PARAMS: dict[str, object] = {
    "name": "Asha", "course": "Algebra 7", "class_title": "Linear equations", "due": "12.03",
    "score": 87, "days": 5, "streak": 4, "peers_done": 12, "peers_total": 20,
    "link": "https://example.org/x",
}
ENGLISH = gettext.NullTranslations()


def msg_id(msg: Msg) -> str | tuple[str, str]:
    return msg if isinstance(msg, str) else (msg.singular, msg.plural)


def all_messages() -> dict[str | tuple[str, str], Msg]:
    return {msg_id(m): m for t in TEMPLATES.values() for m in t.messages()}


def fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}


@pytest.fixture(scope="module", params=sorted(PLURAL_COUNTS))
def po(request: pytest.FixtureRequest) -> Catalog:
    path = ROOT / "locales" / request.param / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        return read_po(handle, locale=request.param)


def translations(po: Catalog) -> gettext.GNUTranslations:
    buffer = BytesIO()
    write_mo(buffer, po)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def test_fragment_has_the_language_plural_count(po: Catalog) -> None:
    assert po.num_plurals == PLURAL_COUNTS[str(po.locale)]


def test_every_msgid_is_translated_with_the_same_placeholders(po: Catalog) -> None:
    for key, msg in all_messages().items():
        entry = po.get(key)
        assert entry is not None and entry.id == key, f"{po.locale}: missing {key!r}"
        assert not entry.fuzzy, f"{po.locale}: fuzzy {key!r}"
        forms = entry.string if isinstance(msg, Plural) else (entry.string,)
        assert len(forms) == (po.num_plurals if isinstance(msg, Plural) else 1)
        expected = fields(key if isinstance(key, str) else key[0])
        for form in forms:
            assert form.strip(), f"{po.locale}: empty translation of {key!r}"
            assert fields(form) == expected, f"{po.locale}: placeholders differ in {form!r}"


def test_catalog_has_every_nudge_message(po: Catalog) -> None:
    assert set(all_messages()) <= {m.id for m in po if m.id}


def test_plural_msgids_agree_on_placeholders() -> None:
    for msg in all_messages().values():
        if isinstance(msg, Plural):
            assert fields(msg.singular) == fields(msg.plural) >= {msg.count}


def test_no_msgid_looks_like_a_percent_format() -> None:
    # Babel would flag "{score}% on" as python-format and msgfmt --check-format would then fail.
    for key in all_messages():
        assert not Message(key).python_format, key


def test_every_catalog_string_is_marked_for_extraction() -> None:
    found = extract_from_file("python", catalog_module.__file__,
                              keywords={"N_": None, "N_plural": (1, 2)})
    assert {message for _, message, _, _ in found} == set(all_messages())


@pytest.mark.parametrize("count", COUNTS)
def test_every_template_renders_in_every_language(po: Catalog, count: int) -> None:
    translator = translations(po)
    params = {**PARAMS, "days": count, "streak": max(count, 3)}
    for template in TEMPLATES.values():
        local = render(template, params, translator.gettext, translator.ngettext)
        english = render(template, params, ENGLISH.gettext, ENGLISH.ngettext)
        assert "{" not in local and "Asha" in local
        assert local != english, f"{po.locale}: {template.key} is not translated"
        assert len(local) < 4096  # Telegram's message limit
        if template.button_msgid:
            assert render_button(template, translator.gettext) != template.button_msgid


def test_russian_plural_forms_follow_the_count() -> None:
    with (ROOT / "locales" / "ru" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        ru = translations(read_po(handle, locale="ru"))
    template = pick_template("inactive", Engagement.LAPSED)
    words = {n: render(template, {**PARAMS, "days": n}, ru.gettext, ru.ngettext)
             for n in (1, 3, 5, 11, 21, 22)}
    assert "1 день" in words[1] and "21 день" in words[21]
    assert "3 дня" in words[3] and "22 дня" in words[22]
    assert "5 дней" in words[5] and "11 дней" in words[11]


def test_every_scenario_has_a_template_for_every_persona() -> None:
    for scenario in SCENARIOS:
        bands = list(Performance) if scenario in BANDED_SCENARIOS else [None]
        for engagement in Engagement:
            for band in bands:
                assert pick_template(scenario, engagement, band).scenario == scenario


def test_tone_follows_the_persona() -> None:
    assert pick_template("class_missed", Engagement.REGULAR).tone is Tone.ENCOURAGING
    assert pick_template("class_missed", Engagement.SLIPPING).tone is Tone.FIRM_KIND
    assert pick_template("class_missed", Engagement.LAPSED).tone is Tone.RE_ENGAGING
    high = pick_template("test_completed", Engagement.REGULAR, Performance.HIGH)
    assert high.tone is Tone.CELEBRATORY


def test_score_band_picks_the_words_and_lapsed_gets_its_own() -> None:
    low = pick_template("test_completed", Engagement.REGULAR, Performance.LOW)
    back = pick_template("test_completed", Engagement.LAPSED, Performance.LOW)
    assert (low.key, back.key) == ("test_completed.low.any", "test_completed.low.lapsed")
    with pytest.raises(ValueError, match="score band"):
        pick_template("test_completed", Engagement.REGULAR)


def test_unknown_scenario() -> None:
    with pytest.raises(KeyError, match="parent_digest"):
        pick_template("parent_digest", Engagement.REGULAR)


def test_keys_are_unique_and_stable() -> None:
    assert len(TEMPLATES) == len({t.key for t in TEMPLATES.values()})
    assert pick_template("welcome", Engagement.REGULAR).key == "welcome.any"


def english(template: Template, **params: object) -> str:
    return render(template, {**PARAMS, **params}, ENGLISH.gettext, ENGLISH.ngettext)


def test_social_proof_only_when_most_but_not_all_peers_are_done() -> None:
    template = pick_template("assignment_due_soon", Engagement.REGULAR)
    assert "12 of 20 classmates have already submitted it." in english(template)
    for done, total in ((2, 4), (4, 10), (19, 20), (20, 20)):
        assert "classmates" not in english(template, peers_done=done, peers_total=total)
    assert "classmates" not in render(template, {"name": "A", "course": "C", "due": "D"},
                                      ENGLISH.gettext, ENGLISH.ngettext)


def test_no_social_proof_for_slipping_or_lapsed_students() -> None:
    for engagement in (Engagement.SLIPPING, Engagement.LAPSED):
        assert "classmates" not in english(pick_template("assignment_due_soon", engagement))


def test_streak_line_only_from_three_days() -> None:
    template = pick_template("check_in", Engagement.REGULAR)
    assert "That's 4 days in a row" in english(template)
    assert "in a row" not in english(template, streak=2)


def test_missing_param_is_an_error() -> None:
    template = pick_template("welcome", Engagement.NEW)
    with pytest.raises(KeyError, match="course"):
        render(template, {"name": "Asha"}, ENGLISH.gettext)


def test_plural_message_needs_ngettext() -> None:
    template = pick_template("inactive", Engagement.LAPSED)
    with pytest.raises(TypeError, match="ngettext"):
        render(template, PARAMS, ENGLISH.gettext)


def test_translation_cannot_reach_attributes() -> None:
    template = pick_template("welcome", Engagement.NEW)
    with pytest.raises(ValueError, match="unsupported placeholder"):
        render(template, PARAMS, lambda _: "{name.__class__}")
