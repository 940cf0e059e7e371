"""Gettext catalogs with an explicit locale: nothing reads a per-update context variable."""

from __future__ import annotations

import gettext as _gettext
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import structlog
from babel import Locale, UnknownLocaleError

DOMAIN = "messages"
log = structlog.get_logger("mentorbot.i18n")


def N_(msgid: str) -> str:
    """Mark a string for extraction without translating it here."""
    return msgid


def N_plural(singular: str, plural: str) -> tuple[str, str]:
    """Mark a plural pair for extraction (`pybabel extract -k N_plural:1,2`)."""
    return singular, plural


@dataclass(frozen=True, slots=True)
class Gettext:
    """A catalog bound to one locale; `_` translates and formats named placeholders."""

    locale: str
    catalog: _gettext.NullTranslations

    def _(self, msgid: str, **params: Any) -> str:
        text = self.catalog.gettext(msgid)
        return text.format(**params) if params else text

    def ngettext(self, singular: str, plural: str, n: int, **params: Any) -> str:
        return self.catalog.ngettext(singular, plural, n).format(n=n, **params)


class Translator:
    """Loads compiled catalogs once per locale; unknown locales fall back to the default."""

    def __init__(self, locales_dir: Path, supported: tuple[str, ...], default: str = "en") -> None:
        self._dir = locales_dir
        self.supported = supported
        self.default = default
        self._cache: dict[str, Gettext] = {}

    def for_locale(self, locale: str | None) -> Gettext:
        code = self.resolve(locale)
        if code not in self._cache:
            self._cache[code] = Gettext(code, self._load(code))
        return self._cache[code]

    def resolve(self, *candidates: str | None) -> str:
        """The first supported language among the candidates, else the default."""
        for candidate in candidates:
            code = _language_of(candidate)
            if code in self.supported:
                return code
        return self.default

    def _load(self, code: str) -> _gettext.NullTranslations:
        try:
            return _gettext.translation(DOMAIN, self._dir, languages=[code])
        except FileNotFoundError:
            if code != "en":
                # Speak English rather than fail the conversation; the log says what to fix.
                log.error("i18n.catalog_missing", locale=code, hint="run `make i18n`")
            return _gettext.NullTranslations()


@lru_cache(maxsize=1024)  # Babel's parser is slow and every turn asks for the same few tags
def _language_of(tag: str | None) -> str | None:
    if not tag:
        return None
    try:
        return Locale.parse(tag.replace("-", "_")).language
    except (ValueError, UnknownLocaleError):
        return None


def best_language(header: str, supported: tuple[str, ...]) -> str | None:
    """The supported language a browser's Accept-Language prefers most ("es-419,es;q=0.9,
    en;q=0.8" -> "es"); None when it names none of them."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header[:500].split(",")):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                continue
        code = _language_of(tag.strip())
        if code in supported and weight > 0:
            ranked.append((-weight, position, code))
    return min(ranked)[2] if ranked else None
