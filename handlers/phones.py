"""Phone numbers as the consent workflow needs them: E.164, US or not, and why not."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType

from core.phones import phone_hash as phone_hash  # storage hashes numbers too

# Longer inputs are not phone numbers; phonenumbers itself refuses past 250 characters.
_MAX_INPUT = 64
_NOT_PERSONAL = {
    PhoneNumberType.TOLL_FREE,
    PhoneNumberType.PREMIUM_RATE,
    PhoneNumberType.SHARED_COST,
}


class PhoneKind(StrEnum):
    US = "us"
    FOREIGN = "foreign"
    INVALID = "invalid"
    EXTENSION = "extension"
    NOT_PERSONAL = "not_personal"


@dataclass(frozen=True, slots=True)
class PhoneCheck:
    kind: PhoneKind
    e164: str | None = None
    region: str | None = None

    @property
    def storable(self) -> bool:
        """Any valid personal number may be stored; only US ones may consent."""
        return self.kind in (PhoneKind.US, PhoneKind.FOREIGN)


def check_phone(raw: str, default_region: str = "US") -> PhoneCheck:
    text = raw.strip()
    if not text or len(text) > _MAX_INPUT or not any(ch.isdigit() for ch in text):
        return PhoneCheck(PhoneKind.INVALID)
    try:
        number = phonenumbers.parse(text, default_region)
    except NumberParseException:
        return PhoneCheck(PhoneKind.INVALID)
    if number.extension:
        return PhoneCheck(PhoneKind.EXTENSION)
    if not phonenumbers.is_valid_number(number):
        return PhoneCheck(PhoneKind.INVALID)
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    region = phonenumbers.region_code_for_number(number)
    if phonenumbers.number_type(number) in _NOT_PERSONAL:
        return PhoneCheck(PhoneKind.NOT_PERSONAL, e164, region)
    # "+1" is not "US": Canada, Puerto Rico and the other NANP regions are refused for coaching.
    kind = PhoneKind.US if region == "US" else PhoneKind.FOREIGN
    return PhoneCheck(kind, e164, region)


def mask(e164: str | None) -> str:
    return (
        "—" if not e164 else e164[:-4].translate(str.maketrans("0123456789", "•" * 10)) + e164[-4:]
    )
