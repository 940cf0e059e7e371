"""Attachments in the neutral vocabulary, per channel: Telegram sends the file (a photo for an
image, captioned when the text is short), the web chat offers it as a data URL, SMS gets the text
only, and the outbox keeps a file only until it is sent."""

from __future__ import annotations

import base64
from pathlib import Path

from bot.channels.console import render as console_render
from bot.channels.sms_render import render_sms
from bot.channels.telegram_render import MAX_CAPTION, render
from bot.channels.webchat import _download
from bot.i18n import Translator
from bot.messages import Attachment, Outbound, Reply
from bot.settings import SUPPORTED_LOCALES
from storage.outbox import ATTACHMENT_KEY, reply_from_row

T = Translator(Path(__file__).resolve().parent.parent / "locales", SUPPORTED_LOCALES)
PNG = Attachment("chart.png", "image/png", b"\x89PNG\r\n\x1a\nfake")
CSV = Attachment("rows.csv", "text/csv", b"id,name\n1,x\n")


def test_telegram_captions_a_short_text_and_splits_a_long_one() -> None:
    t = T.for_locale("en")
    [part] = render(Reply("Chart: the funnel", attachment=PNG), t)
    assert (part.text, part.attachment) == ("Chart: the funnel", PNG)
    long = render(Reply("x" * (MAX_CAPTION + 1), attachment=CSV), t)
    assert [p.attachment for p in long] == [None, CSV] and long[1].text == ""


def test_the_web_chat_offers_a_data_url() -> None:
    offered = _download(CSV)
    assert offered is not None and offered["name"] == "rows.csv"
    assert offered["url"] == "data:text/csv;base64," + base64.b64encode(CSV.data).decode()
    assert _download(None) is None


def test_sms_and_the_terminal_get_the_text_only() -> None:
    sms = render_sms(Reply("Your data is attached.", attachment=CSV), T.for_locale("en"))
    assert sms.body == "Your data is attached."
    shown = console_render(Outbound(1, "console", "me", Reply("Here", attachment=CSV)))
    assert shown == "Here\n  [rows.csv: 12 bytes, text/csv]"


def test_the_outbox_round_trip_keeps_the_bytes() -> None:
    meta = {ATTACHMENT_KEY: {"name": "chart.png", "media_type": "image/png",
                             "data": base64.b64encode(PNG.data).decode()}}  # fmt: skip
    assert reply_from_row("Chart", [], meta).attachment == PNG
    assert reply_from_row("Chart", [], {}).attachment is None
