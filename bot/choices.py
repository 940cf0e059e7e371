"""Map a typed answer back to one of the offered choices ("1", "yes", "sí", "да", a label).

Every text channel shares the SMS matcher (`match_choice`): numbers, labels, yes/no words in
every supported language, and a careful fuzzy match; unclear answers give None.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.channels.sms_choices import ChoiceKind, ChoiceOption, match_choice


def _kind(choice_id: str) -> ChoiceKind:
    return "yes" if choice_id == "yes" else "no" if choice_id == "no" else "other"


def resolve_choice(text: str, offered: Sequence[dict[str, str]]) -> str | None:
    options = [ChoiceOption(o["id"], (o["label"],), _kind(o["id"])) for o in offered]
    return match_choice(text, options)
