"""No button label, in any language, is a compliance keyword: on SMS a person types the label
they see, and "Cancel" (or "Cancelar") would opt their number out of everything.

The labels are found in the code (every `Choice(id, t._("label"))`) and translated with the real
catalogs. YES is allowed: it is the opt-in word only for a number that opted out, where it means
exactly that."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bot.i18n import Translator
from bot.settings import SUPPORTED_LOCALES, Settings
from handlers.keywords import Keyword, classify
from handlers.settings import LANGUAGES

ROOT = Path(__file__).resolve().parent.parent
ALLOWED = {Keyword.OPT_IN}


def label_msgids() -> set[str]:
    found: set[str] = set()
    for path in [*ROOT.glob("handlers/*.py"), *ROOT.glob("bot/**/*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Choice"):
                continue
            label = node.args[1] if len(node.args) > 1 else None
            if (isinstance(label, ast.Call) and isinstance(label.func, ast.Attribute)
                    and label.func.attr == "_" and isinstance(label.args[0], ast.Constant)):
                found.add(str(label.args[0].value))
    return found


def test_the_labels_are_found() -> None:
    labels = label_msgids()
    assert {"Yes", "No", "Settings", "Talk to a mentor", "Take", "Pass"} <= labels


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_no_label_is_a_compliance_keyword(locale: str) -> None:
    locales_dir = Settings(_env_file=None).locales_dir  # type: ignore[call-arg]
    t = Translator(locales_dir, SUPPORTED_LOCALES).for_locale(locale)
    labels = [t._(msgid) for msgid in label_msgids()] + [name for _code, name in LANGUAGES]
    found = {label: classify(label) for label in labels}
    clashes = {label: kw for label, kw in found.items() if kw not in (None, *ALLOWED)}
    assert not clashes, f"{locale}: labels that are compliance keywords: {clashes}"
