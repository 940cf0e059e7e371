"""Gettext catalogs, now in `core.i18n`: imported from here too."""

from core.i18n import (
    DOMAIN,
    N_,
    Gettext,
    N_plural,
    Translator,
    best_language,
)

__all__ = [
    "DOMAIN",
    "N_",
    "Gettext",
    "N_plural",
    "Translator",
    "best_language",
]
