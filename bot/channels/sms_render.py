"""An outbound reply as SMS text: numbered choices, at most three segments, a link for the rest."""

from __future__ import annotations

from dataclasses import dataclass

from bot.channels.sms_segments import fit_segments, segment_info
from bot.i18n import Gettext
from bot.messages import Reply

MAX_SEGMENTS = 3
# Crisis resources are never cut behind a link: a student in crisis may not open it.
UNCUT_KINDS = frozenset({"safety"})
UNCUT_MAX_SEGMENTS = 10


@dataclass(frozen=True, slots=True)
class SmsText:
    body: str
    segments: int
    encoding: str


def choices_prompt(reply: Reply, t: Gettext) -> str:
    """ "Reply 1 for Yes, 2 for No", in the person's language."""
    if not reply.choices:
        return ""
    first, *rest = reply.choices
    parts = [t._("Reply {number} for {label}", number=1, label=first.label)]
    parts += [
        t._("{number} for {label}", number=n, label=c.label) for n, c in enumerate(rest, start=2)
    ]
    return ", ".join(parts)


def render_sms(
    reply: Reply, t: Gettext, full_text_link: str | None = None, kind: str = "reply"
) -> SmsText:
    """The text we send: the reply, its numbered choices, shortened to `MAX_SEGMENTS`.

    When the reply is too long its body is cut at a word and `full_text_link` follows; the
    choices prompt is never cut, since the person needs it to answer.
    """
    prompt = choices_prompt(reply, t)
    whole = "\n".join(part for part in (reply.text, prompt) if part)
    limit = UNCUT_MAX_SEGMENTS if kind in UNCUT_KINDS else MAX_SEGMENTS
    if segment_info(whole).segments > limit:
        tail = "\n".join(part for part in (full_text_link, prompt) if part) or None
        # A body that fits alone is cut too: without the prompt nobody could answer.
        whole = fit_segments(reply.text, limit, link=tail, link_needed=True)
    info = segment_info(whole)
    return SmsText(whole, info.segments, info.encoding)
