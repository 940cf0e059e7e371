"""Unit tests for the Telegram adapter: rendering, splitting, callback data, update classes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiogram.types import InlineKeyboardMarkup, ReplyKeyboardMarkup, Update
from hypothesis import given
from hypothesis import strategies as st

from bot.channels.telegram_inbound import Ignore, Notice, Notify, Turn, classify
from bot.channels.telegram_render import (
    INVALID_CHOICE,
    callback_data,
    parse_callback,
    render,
    split_text,
)
from bot.i18n import Translator
from bot.messages import Choice, Reply
from bot.settings import SUPPORTED_LOCALES

LOCALES = Path(__file__).resolve().parent.parent / "locales"
EN = Translator(LOCALES, SUPPORTED_LOCALES).for_locale("en")
USER = {"id": 5, "is_bot": False, "first_name": "Ann", "language_code": "es"}
CHAT = {"id": 5, "type": "private", "first_name": "Ann"}


def update(**event: Any) -> Update:
    return Update.model_validate({"update_id": 9, **event})


def message(**fields: Any) -> dict[str, Any]:
    return {"message_id": 1, "date": 1_790_000_000, "chat": CHAT, "from": USER, **fields}


def test_split_prefers_line_then_word_boundaries() -> None:
    text = "a" * 10 + "\n" + "b" * 5 + " " + "c" * 5
    assert split_text(text, limit=12) == ["a" * 10, "bbbbb ccccc"]
    assert split_text("b" * 8 + " " + "c" * 8, limit=12) == ["b" * 8, "c" * 8]
    assert split_text("x" * 25, limit=10) == ["x" * 10, "x" * 10, "x" * 5]
    assert split_text("short") == ["short"]


@given(st.text(alphabet="ab \n", min_size=1, max_size=300))
def test_split_never_exceeds_the_limit_or_loses_words(text: str) -> None:
    parts = split_text(text, limit=20)
    assert all(0 < len(p) <= 20 for p in parts)
    assert "".join(text.split()) == "".join("".join(parts).split())


def test_choices_become_inline_buttons_on_the_last_part_only() -> None:
    reply = Reply("x " * 3000, (Choice("yes", "Yes"), Choice("no", "No")))
    parts = render(reply, EN)
    assert len(parts) == 2 and parts[0].markup is None
    markup = parts[1].markup
    assert isinstance(markup, InlineKeyboardMarkup)
    assert [[b.callback_data for b in row] for row in markup.inline_keyboard] == [["c:yes"],
                                                                                  ["c:no"]]


def test_phone_request_is_a_one_time_contact_keyboard_with_choices_as_text() -> None:
    markup = render(Reply("Your number?", (Choice("decline", "No thanks"),), True), EN)[0].markup
    assert isinstance(markup, ReplyKeyboardMarkup) and markup.one_time_keyboard
    share, decline = markup.keyboard[0][0], markup.keyboard[1][0]
    assert share.request_contact and share.text == "📱 Share my phone number"
    assert decline.text == "No thanks" and not decline.request_contact


def test_callback_data_fits_in_64_bytes() -> None:
    assert callback_data("yes") == "c:yes"
    assert callback_data("é" * 40) is None  # 82 bytes: dropped rather than rejected by Telegram
    assert len(callback_data("x" * 62).encode()) == 64  # type: ignore[union-attr]


@given(st.text(max_size=100))
def test_parse_callback_never_fails(data: str) -> None:
    choice = parse_callback(data)
    assert choice == INVALID_CHOICE or ("c:" + choice == data)


def test_parse_callback_rejects_foreign_data() -> None:
    assert parse_callback("c:yes") == "yes"
    for bad in (None, "", "c:", "yes", "c:\x00", "c:" + "x" * 70):
        assert parse_callback(bad) == INVALID_CHOICE


def test_text_and_start_payload_become_a_turn() -> None:
    action = classify(update(message=message(text="/start abc_123")))
    assert isinstance(action, Turn)
    inbound = action.inbound
    assert (inbound.channel, inbound.address, inbound.external_id) == ("telegram", "5", "tg:9")
    assert (inbound.link_token, inbound.locale_hint, inbound.display_name) == ("abc_123", "es",
                                                                              "Ann")
    plain = classify(update(message=message(text="hello /start x")))
    assert isinstance(plain, Turn) and plain.inbound.link_token is None


def test_only_the_senders_own_contact_is_taken() -> None:
    own = classify(update(message=message(contact={"phone_number": "+1415", "first_name": "A",
                                                   "user_id": 5})))
    assert isinstance(own, Turn) and own.inbound.contact_phone == "+1415"
    other = classify(update(message=message(contact={"phone_number": "+1415",
                                                     "first_name": "B", "user_id": 6})))
    assert isinstance(other, Notify) and other.notice is Notice.NOT_OWN_CONTACT
    unknown = classify(update(message=message(contact={"phone_number": "+1", "first_name": "C"})))
    assert isinstance(unknown, Notify)


def test_media_groups_channels_and_edits() -> None:
    sticker = {"file_id": "f", "file_unique_id": "u", "type": "regular", "width": 1,
               "height": 1, "is_animated": False, "is_video": False}
    assert isinstance(classify(update(message=message(sticker=sticker))), Notify)
    group = message(text="hi", chat={"id": -5, "type": "group", "title": "G"})
    assert isinstance(classify(update(message=group)), Ignore)
    assert isinstance(classify(update(edited_message=message(text="x", edit_date=1))), Ignore)
    post = {"message_id": 1, "date": 1, "chat": {"id": -100, "type": "channel"}, "text": "x"}
    assert isinstance(classify(update(channel_post=post)), Ignore)


def test_button_press_carries_the_choice_and_the_query_id() -> None:
    query = {"id": "q1", "from": USER, "chat_instance": "c", "data": "c:yes",
             "message": message(text="Agree?", **{"from": {"id": 1, "is_bot": True,
                                                           "first_name": "Bot"}})}
    action = classify(update(callback_query=query))
    assert isinstance(action, Turn) and action.callback_query_id == "q1"
    assert action.inbound.choice_id == "yes" and action.inbound.address == "5"
    forged = classify(update(callback_query={**query, "data": "rm -rf"}))
    assert isinstance(forged, Turn) and forged.inbound.choice_id == INVALID_CHOICE


def test_an_update_of_a_type_aiogram_does_not_know_is_ignored_quietly() -> None:
    update = Update.model_validate({"update_id": 5, "brand_new_kind_of_update": {"x": 1}})
    assert classify(update) == Ignore("update type unknown")


def test_a_contact_without_plus_is_read_as_international() -> None:
    def shared(phone: str) -> str | None:
        turn = classify(update(message=message(contact={
            "phone_number": phone, "first_name": "A", "user_id": 5})))
        assert isinstance(turn, Turn)
        return turn.inbound.contact_phone

    assert shared("447911123456") == "+447911123456"  # how Telegram sends it: no "+"
    assert shared("14155552671") == "+14155552671"
    assert shared("+14155552671") == "+14155552671"
