"""The first answer to a student in crisis: fixed, reviewed words and the right local lines.

Resources are data (`locales/crisis_resources.yaml`), keyed by *country*, not language: a
Spanish speaker in the US gets 988 in Spanish. The reply says it is automatic, that a person has
been alerted, asks one direct safety question and gives two routes plus the emergency number
(notes/safety.md §2). It never asks for details first and never repeats what the student wrote.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path

import phonenumbers
import yaml
from babel.core import get_global
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from core.i18n import Gettext
from core.messages import Reply

RESOURCES_FILE = "crisis_resources.yaml"
CATEGORIES = frozenset({"suicide", "self_harm", "abuse", "violence"})


class ResourceFileError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class Resource(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    source: str = Field(min_length=3)
    text: Mapping[str, str]
    categories: tuple[str, ...] = ()  # empty: every crisis

    @model_validator(mode="after")
    def _checked(self) -> Resource:
        if "en" not in self.text:
            raise ValueError("every resource needs an English text (the fallback)")
        unknown = set(self.categories) - CATEGORIES
        if unknown:
            raise ValueError(f"unknown categories {sorted(unknown)}")
        return self

    def line(self, locale: str) -> str:
        return self.text.get(locale) or self.text["en"]


class Country(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    emergency: str
    verified_on: date
    resources: tuple[Resource, ...] = Field(min_length=1)


class CrisisResources(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    default_country: str
    countries: Mapping[str, Country]

    @model_validator(mode="after")
    def _default_known(self) -> CrisisResources:
        if self.default_country not in self.countries:
            raise ValueError(f"default_country {self.default_country!r} has no resources")
        return self

    def for_country(self, country: str | None) -> Country:
        return self.countries.get(country or "") or self.countries[self.default_country]


def load_resources(locales_dir: Path) -> CrisisResources:
    path = locales_dir / RESOURCES_FILE
    try:
        return CrisisResources.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except OSError as exc:
        raise ResourceFileError([f"{RESOURCES_FILE}: cannot read: {exc}"]) from None
    except yaml.YAMLError as exc:
        raise ResourceFileError([f"{RESOURCES_FILE}: not valid YAML: {exc}"]) from None
    except ValidationError as exc:
        problems = [
            f"{RESOURCES_FILE}: {'.'.join(str(x) for x in e['loc'])}: {e['msg']}"
            for e in exc.errors()
        ]
        raise ResourceFileError(problems) from None


def crisis_reply(t: Gettext, country: Country, category: str) -> Reply:
    """Category-specific lines first (abuse: the abuse line), then the general ones; two at most
    besides the emergency number, so the text stays short on SMS (and it is never cut there)."""
    specific = [r for r in country.resources if category in r.categories]
    general = [r for r in country.resources if not r.categories]
    lines = "\n".join("• " + r.line(t.locale) for r in [*specific, *general][:2])
    opening = t._(
        "This is an automatic reply. I'm very sorry you're going through this, and I've "
        "alerted a person from our team. Are you safe right now?"
    )
    help_now = t._("You can talk to someone right now, any time:")
    danger = t._("If you are in immediate danger, call {number}.", number=country.emergency)
    # The lines to call come first: on a small screen or a cut SMS they are what must show.
    return Reply(f"{help_now}\n{lines}\n{danger}\n\n{opening}")


def country_of(phone_e164: str | None, time_zone: str | None) -> str | None:
    """Where the student is: the phone's country, else the time zone's; None when unknown."""
    if phone_e164:
        try:
            region = phonenumbers.region_code_for_number(phonenumbers.parse(phone_e164))
        except phonenumbers.NumberParseException:
            region = None
        if region and region != "ZZ":
            return str(region)
    if time_zone:
        return get_global("zone_territories").get(time_zone)
    return None
