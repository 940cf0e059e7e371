"""Map a typed answer back to one of the offered choices ("1", "yes", a label)."""

from __future__ import annotations

from collections.abc import Sequence

_YES = {"y", "yes", "yeah", "yep", "ok", "sí", "si", "да", "हाँ", "हां", "haan"}
_NO = {"n", "no", "nope", "нет", "नहीं", "nahi"}


def resolve_choice(text: str, offered: Sequence[dict[str, str]]) -> str | None:
    answer = text.strip().strip(".!?#").casefold()
    if not answer or not offered:
        return None
    if answer.isdigit() and 1 <= int(answer) <= len(offered):
        return offered[int(answer) - 1]["id"]
    for option in offered:
        if answer == option["label"].casefold():
            return option["id"]
    ids = {option["id"] for option in offered}
    if answer in _YES and "yes" in ids:
        return "yes"
    if answer in _NO and "no" in ids:
        return "no"
    return None
