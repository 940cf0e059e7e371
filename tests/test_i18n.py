"""Catalogs: complete, placeholders identical in every language, in step with the code."""

from __future__ import annotations

import string
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po

from bot.i18n import Translator
from bot.settings import SUPPORTED_LOCALES

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "locales"
TRANSLATED = [code for code in SUPPORTED_LOCALES if code != "en"]


def load(code: str) -> Catalog:
    with (LOCALES / code / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=code)


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def forms(message: Message) -> list[str]:
    return list(message.string) if isinstance(message.string, tuple) else [message.string]


def source_forms(message: Message) -> list[str]:
    return list(message.id) if isinstance(message.id, tuple) else [message.id]


@pytest.mark.parametrize("code", TRANSLATED)
def test_every_message_is_translated(code: str) -> None:
    catalog = load(code)
    missing = [m.id for m in catalog if m.id and (m.fuzzy or not all(forms(m)))]
    assert not missing, f"{code}: untranslated or fuzzy: {missing[:5]}"


@pytest.mark.parametrize("code", TRANSLATED)
def test_placeholders_are_the_same_in_every_form(code: str) -> None:
    catalog = load(code)
    for message in catalog:
        if not message.id:
            continue
        expected = set().union(*(fields(s) for s in source_forms(message)))
        for form in forms(message):
            assert fields(form) <= expected, f"{code}: {message.id!r} has {fields(form)}"
            if not message.pluralizable:
                assert fields(form) == expected, f"{code}: {message.id!r} -> {form!r}"


@pytest.mark.parametrize("code", TRANSLATED)
def test_plural_forms_match_the_language(code: str) -> None:
    catalog = load(code)
    for message in catalog:
        if message.id and message.pluralizable:
            assert len(forms(message)) == catalog.num_plurals, f"{code}: {message.id!r}"


def test_catalogs_are_in_step_with_the_code(tmp_path: Path) -> None:
    """A string added to the code but not to the catalogs fails here: run `make i18n`."""
    pot = tmp_path / "check.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F",
                    str(ROOT / "babel.cfg"), "-k", "_", "-k", "N_", "-k", "N_plural:1,2",
                    "-k", "ngettext:1,2", "--no-location", "-o", str(pot), str(ROOT)],
                   check=True, capture_output=True, cwd=ROOT)
    with pot.open("rb") as handle:
        in_code = {m.id for m in read_po(handle) if m.id}
    for code in SUPPORTED_LOCALES:
        in_catalog = {m.id for m in load(code) if m.id}
        assert not in_code - in_catalog, f"{code} lacks {sorted(in_code - in_catalog)[:3]}"
        assert not in_catalog - in_code, f"{code}: stale {sorted(in_catalog - in_code)[:3]}"


@pytest.mark.parametrize("code", TRANSLATED)
def test_compiled_catalog_is_used(code: str) -> None:
    t = Translator(LOCALES, SUPPORTED_LOCALES).for_locale(code)
    assert t._("Yes") != "Yes"
    assert t.ngettext("{n} message from you", "{n} messages from you", 5) != (
        "5 messages from you")


def test_locale_resolution_prefers_the_first_supported() -> None:
    translator = Translator(LOCALES, SUPPORTED_LOCALES, "en")
    assert translator.resolve(None, "es-MX") == "es"
    assert translator.resolve("ru", "es") == "ru"
    assert translator.resolve("xx", "zz-ZZ", None) == "en"
    assert translator.resolve("pt_BR") == "en"
