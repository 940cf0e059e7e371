"""The Twilio emulator, driven by the real twilio-python client over loopback HTTP."""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import requests
from aiohttp import web
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.rest.api.v2010.account.message import MessageInstance

from tests.emulators.twilio_api import TwilioEmulator
from tests.emulators.twilio_messages import count_segments

PUBLIC = "https://public.example"
SENDER = "+15005550006"
STUDENT = "+14155552671"
SERVICE = "MG" + "a" * 32


@dataclass
class Seen:
    path: str
    form: dict[str, str]
    signature: str | None
    valid: bool


class Receiver:
    """Our app's stand-in: validates X-Twilio-Signature against the public URL, like prod."""

    def __init__(self, auth_token: str) -> None:
        self.validator = RequestValidator(auth_token)
        self.seen: list[Seen] = []
        self.base_url = ""

    async def handle(self, request: web.Request) -> web.Response:
        form = {key: str(value) for key, value in (await request.post()).items()}
        signature = request.headers.get("X-Twilio-Signature")
        valid = bool(signature) and self.validator.validate(
            PUBLIC + request.path_qs, form, signature
        )
        self.seen.append(Seen(request.path, form, signature, valid))
        return web.Response(status=200 if valid else 403, text="<Response/>")


@pytest.fixture(autouse=True)
def _no_twilio_region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TWILIO_REGION", raising=False)
    monkeypatch.delenv("TWILIO_EDGE", raising=False)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver("test-auth-token")
    app = web.Application()
    app.router.add_post("/{tail:.*}", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    receiver.base_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield receiver
    await runner.cleanup()


@pytest.fixture
async def emu(receiver: Receiver) -> AsyncIterator[TwilioEmulator]:
    async with TwilioEmulator(
        rate_per_sender=1000.0, public_url_map={PUBLIC: receiver.base_url}
    ) as emulator:
        yield emulator


def sync_client(emu: TwilioEmulator, *, token: str | None = None, timeout: float = 5) -> Client:
    client = Client(
        emu.account_sid, token or emu.auth_token, http_client=TwilioHttpClient(timeout=timeout)
    )
    client.api.base_url = emu.base_url
    return client


async def create(emu: TwilioEmulator, **kwargs: object) -> MessageInstance:
    kwargs.setdefault("from_", SENDER)
    kwargs.setdefault("to", STUDENT)
    kwargs.setdefault("body", "Hi! Did you finish today's activity?")
    return await asyncio.to_thread(sync_client(emu).messages.create, **kwargs)


async def create_error(emu: TwilioEmulator, **kwargs: object) -> TwilioRestException:
    with pytest.raises(TwilioRestException) as caught:
        await create(emu, **kwargs)
    return caught.value


async def test_create_returns_twilio_shape_and_fetch_follows_the_lifecycle(
    emu: TwilioEmulator,
) -> None:
    created = await create(emu, body="x" * 161)
    assert created.sid.startswith("SM") and len(created.sid) == 34
    assert (created.status, created.direction, created.api_version) == (
        "queued", "outbound-api", "2010-04-01",
    )  # fmt: skip
    assert created.num_segments == "2" and created.error_code is None
    assert created.date_created is not None and created.date_created.tzinfo is not None
    assert created.uri == f"/2010-04-01/Accounts/{emu.account_sid}/Messages/{created.sid}.json"

    await emu.wait_for(lambda: emu.message(created.sid).status == "delivered")
    fetched = await asyncio.to_thread(sync_client(emu).messages(created.sid).fetch)
    assert (fetched.sid, fetched.status, fetched.from_) == (created.sid, "delivered", SENDER)
    assert fetched.date_sent is not None
    assert emu.message(created.sid).statuses == ["queued", "sending", "sent", "delivered"]


async def test_messaging_service_create_is_accepted_then_picks_a_sender(
    emu: TwilioEmulator,
) -> None:
    created = await create(emu, from_=None, messaging_service_sid=SERVICE)
    assert (created.status, created.num_segments, created.from_) == ("accepted", "0", None)
    await emu.wait_for(lambda: emu.message(created.sid).status == "delivered")
    fetched = await asyncio.to_thread(sync_client(emu).messages(created.sid).fetch)
    assert (fetched.from_, fetched.num_segments) == (emu.carrier.service_sender, "1")
    assert emu.message(created.sid).statuses[:2] == ["accepted", "queued"]


@pytest.mark.parametrize(
    ("to", "code"),
    [("+15005550001", 21211), ("+15005550002", 21612), ("+15005550003", 21408),
     ("+15005550004", 21610), ("+15005550009", 21614), ("4155552671", 21211)],
)  # fmt: skip
async def test_magic_to_numbers_raise_twilio_errors(
    emu: TwilioEmulator, to: str, code: int
) -> None:
    error = await create_error(emu, to=to)
    assert (error.status, error.code) == (400, code)
    assert emu.messages == []


@pytest.mark.parametrize(
    ("sender", "code"), [("+15005550001", 21212), ("+15005550007", 21606), ("+15005550008", 21611)]
)
async def test_magic_from_numbers_raise_twilio_errors(
    emu: TwilioEmulator, sender: str, code: int
) -> None:
    assert (await create_error(emu, from_=sender)).code == code


async def test_opt_out_and_mark_invalid_apply_to_any_number(emu: TwilioEmulator) -> None:
    emu.opt_out(STUDENT)
    error = await create_error(emu)
    assert (error.code, error.msg) == (21610, "Unable to create record: Attempt to send to "
                                              "unsubscribed recipient")  # fmt: skip
    emu.opt_in(STUDENT)
    emu.mark_invalid(STUDENT)
    assert (await create_error(emu)).code == 21211


async def test_request_validation_errors(emu: TwilioEmulator) -> None:
    assert (await create_error(emu, validity_period=36001)).code == 21624
    assert (await create_error(emu, body="x" * 1601)).code == 21617
    assert (await create_error(emu, status_callback="https://my_app.example/cb")).code == 21609


async def test_injected_429_and_500_create_nothing_then_clear(emu: TwilioEmulator) -> None:
    emu.inject("429")
    emu.inject("500")
    assert ((await create_error(emu)).status, emu.counters["http_429"]) == (429, 1)
    error = await create_error(emu)
    assert (error.status, error.code) == (500, 20500)
    assert emu.messages == []
    await create(emu)
    assert emu.counters["created"] == 1 and emu.counters["create_requests"] == 3


async def test_429_surfaces_as_code_20429(emu: TwilioEmulator) -> None:
    emu.inject("429")
    assert (await create_error(emu)).code == 20429


async def test_injected_21610_refuses_one_create(emu: TwilioEmulator) -> None:
    emu.inject("21610")
    assert (await create_error(emu)).code == 21610
    await create(emu)


async def test_wrong_credentials_get_20003(emu: TwilioEmulator) -> None:
    client = sync_client(emu, token="not-the-token")
    with pytest.raises(TwilioRestException) as caught:
        await asyncio.to_thread(client.messages.create, to=STUDENT, from_=SENDER, body="hi")
    assert (caught.value.status, caught.value.code) == (401, 20003)


async def test_unknown_sid_is_20404(emu: TwilioEmulator) -> None:
    with pytest.raises(TwilioRestException) as caught:
        await asyncio.to_thread(sync_client(emu).messages("SM" + "0" * 32).fetch)
    assert (caught.value.status, caught.value.code) == (404, 20404)


async def test_async_client_create_fetch_and_error(emu: TwilioEmulator) -> None:
    http = AsyncTwilioHttpClient()
    client = Client(emu.account_sid, emu.auth_token, http_client=http)
    client.api.base_url = emu.base_url
    try:
        created = await client.messages.create_async(to=STUDENT, from_=SENDER, body="hello")
        fetched = await client.messages(created.sid).fetch_async()
        assert fetched.sid == created.sid and fetched.to == STUDENT
        with pytest.raises(TwilioRestException) as caught:
            await client.messages.create_async(to="+15005550009", from_=SENDER, body="x")
        assert caught.value.code == 21614
    finally:
        await http.close()


async def test_list_filters_by_to_and_pages_newest_first(emu: TwilioEmulator) -> None:
    for index in range(5):
        await create(emu, body=f"nudge {index}")
    await create(emu, to="+14155550100")
    listed = await asyncio.to_thread(sync_client(emu).messages.list, to=STUDENT, page_size=2)
    assert [m.body for m in listed] == [f"nudge {index}" for index in range(4, -1, -1)]


async def test_queue_drains_in_order_at_the_configured_rate(emu: TwilioEmulator) -> None:
    emu.rate_per_sender = 10.0  # segments/s: one-segment messages leave 0.1 s apart
    bodies = ["a", "b", "c" * 200, "d", "e"]  # "c…" is 2 segments: the next waits 0.2 s
    sids = [(await create(emu, body=body)).sid for body in bodies]
    await emu.wait_for(lambda: all(emu.message(s).sent_at is not None for s in sids))
    sent = [emu.message(sid).sent_at or 0.0 for sid in sids]
    gaps = [later - earlier for earlier, later in itertools.pairwise(sent)]
    for gap, expected in zip(gaps, [0.1, 0.1, 0.2, 0.1], strict=True):
        assert expected - 0.02 <= gap <= expected + 0.08
    assert emu.achieved_rate(SENDER) == pytest.approx(10.0, rel=0.2)


async def test_message_past_its_validity_period_fails_with_30036(
    emu: TwilioEmulator, receiver: Receiver
) -> None:
    emu.rate_per_sender = 1.0
    first = await create(emu, body="x" * 400)  # 3 segments hold the sender for 3 s
    late = await create(emu, validity_period=1, status_callback=f"{PUBLIC}/sms/status")
    await emu.wait_for(lambda: emu.message(late.sid).status == "failed")
    assert emu.message(late.sid).error_code == 30036
    assert emu.message(late.sid).sent_at is None and emu.message(first.sid).sent_at is not None
    await emu.wait_for(lambda: len(receiver.seen) == 1)
    assert receiver.seen[0].form["MessageStatus"] == "failed"
    assert receiver.seen[0].form["ErrorCode"] == "30036"


async def test_a_full_queue_fails_the_create_with_30001(
    emu: TwilioEmulator, receiver: Receiver
) -> None:
    emu.rate_per_sender, emu.queue_seconds = 1.0, 2.0  # room for two segments waiting
    kept = [await create(emu) for _ in range(3)]  # the first leaves at once, two wait
    over = await create(emu, status_callback=f"{PUBLIC}/sms/status")
    assert over.status == "queued"  # accepted, as Twilio does, then failed
    await emu.wait_for(lambda: emu.message(over.sid).status == "failed")
    assert emu.message(over.sid).error_code == 30001 and emu.counters["queue_overflow"] == 1
    assert all(emu.message(m.sid).status != "failed" for m in kept)
    await emu.wait_for(lambda: len(receiver.seen) == 1)
    assert receiver.seen[0].form["ErrorCode"] == "30001"


async def test_status_callbacks_are_signed_for_the_public_url(
    emu: TwilioEmulator, receiver: Receiver
) -> None:
    created = await create(emu, status_callback=f"{PUBLIC}/sms/status?school=7")
    await emu.wait_for(lambda: len(emu.callbacks_posted) == 2)
    assert [seen.form["MessageStatus"] for seen in receiver.seen] == ["sent", "delivered"]
    assert all(seen.valid and seen.path == "/sms/status" for seen in receiver.seen)
    assert receiver.seen[1].form["MessageSid"] == created.sid
    assert [posted.http_status for posted in emu.callbacks_posted] == [200, 200]
    assert emu.callbacks_posted[0].signed_url == f"{PUBLIC}/sms/status?school=7"


@pytest.mark.parametrize(
    ("variant", "statuses", "valid"),
    [
        ("callback_duplicate", ["sent", "sent", "delivered", "delivered"], True),
        ("callback_out_of_order", ["delivered", "sent"], True),
        ("callback_unsigned", ["sent", "delivered"], False),
        ("callback_wrong_signature", ["sent", "delivered"], False),
    ],
)
async def test_callback_variants(
    emu: TwilioEmulator, receiver: Receiver, variant: str, statuses: list[str], valid: bool
) -> None:
    emu.inject(variant)  # type: ignore[arg-type]
    await create(emu, status_callback=f"{PUBLIC}/sms/status")
    await emu.wait_for(lambda: len(emu.callbacks_posted) == len(statuses))
    assert [seen.form["MessageStatus"] for seen in receiver.seen] == statuses
    assert all(seen.valid is valid for seen in receiver.seen)
    assert (receiver.seen[0].signature is None) is (variant == "callback_unsigned")


async def test_fail_delivery_ends_undelivered_with_error_code(
    emu: TwilioEmulator, receiver: Receiver
) -> None:
    emu.fail_delivery(STUDENT, error_code=30003)
    created = await create(emu, status_callback=f"{PUBLIC}/sms/status")
    await emu.wait_for(lambda: len(receiver.seen) == 2)
    assert receiver.seen[1].form["MessageStatus"] == "undelivered"
    assert receiver.seen[1].form["ErrorCode"] == "30003"
    fetched = await asyncio.to_thread(sync_client(emu).messages(created.sid).fetch)
    assert (fetched.status, fetched.error_code) == ("undelivered", 30003)


async def test_without_delivery_messages_stop_at_sent(
    emu: TwilioEmulator, receiver: Receiver
) -> None:
    emu.deliver = False
    created = await create(emu, status_callback=f"{PUBLIC}/sms/status")
    await emu.wait_for(lambda: len(receiver.seen) == 1)
    assert receiver.seen[0].form["MessageStatus"] == "sent"
    assert emu.message(created.sid).statuses == ["queued", "sending", "sent"]


@pytest.mark.parametrize(("signature", "status"), [("valid", 200), ("missing", 403),
                                                    ("wrong", 403)])  # fmt: skip
async def test_inbound_signature_modes(
    emu: TwilioEmulator, receiver: Receiver, signature: str, status: int
) -> None:
    answer = await emu.send_inbound(
        f"{receiver.base_url}/sms/inbound", from_=STUDENT, to=SENDER, body="STOP",
        signature=signature,  # type: ignore[arg-type]
    )  # fmt: skip
    assert answer == status
    assert (receiver.seen[0].signature is None) is (signature == "missing")


async def test_inbound_form_and_replay(emu: TwilioEmulator, receiver: Receiver) -> None:
    url = f"{receiver.base_url}/sms/inbound"
    kwargs = {"from_": STUDENT, "to": SENDER, "body": "¿Qué hago hoy?"}
    assert await emu.send_inbound(url, messaging_service_sid=SERVICE, **kwargs) == 200
    sid = receiver.seen[0].form["MessageSid"]
    assert await emu.send_inbound(url, message_sid=sid, **kwargs) == 200
    first, replay = receiver.seen[0].form, receiver.seen[1].form
    assert first["SmsSid"] == first["SmsMessageSid"] == replay["MessageSid"] == sid
    assert (first["SmsStatus"], first["NumSegments"], first["FromCountry"]) == (
        "received", "1", "US",
    )  # fmt: skip
    assert first["MessagingServiceSid"] == SERVICE and "MessagingServiceSid" not in replay
    assert first["AccountSid"] == emu.account_sid and first["Body"] == "¿Qué hago hoy?"


async def test_timeout_after_create_leaves_a_message_that_fetch_finds(
    emu: TwilioEmulator,
) -> None:
    emu.inject("timeout_after_create")
    client = sync_client(emu, timeout=0.3)
    with pytest.raises(requests.exceptions.ReadTimeout):
        await asyncio.to_thread(client.messages.create, to=STUDENT, from_=SENDER, body="hi")
    found = await asyncio.to_thread(client.messages.list, to=STUDENT, limit=5)
    assert len(found) == 1 and found[0].body == "hi"
    fetched = await asyncio.to_thread(client.messages(found[0].sid).fetch)
    assert fetched.sid == emu.messages[0].sid


async def test_drop_after_create_closes_the_connection(emu: TwilioEmulator) -> None:
    emu.inject("drop_after_create")
    with pytest.raises(requests.exceptions.ConnectionError):
        await create(emu)
    assert len(emu.messages_to(STUDENT)) == 1


@pytest.mark.parametrize(
    ("body", "segments"),
    [("a" * 160, 1), ("a" * 161, 2), ("a" * 306, 2), ("a" * 307, 3), ("€" * 80, 1),
     ("€" * 81, 2), ("í" * 70, 1), ("í" * 71, 2), ("í" * 134, 2), ("í" * 135, 3),
     ("Hi 🎉" * 14, 1), ("¡Hola! ¿día?", 1), ("Great job ’", 1), ("a" * 159 + "€", 2)],
)  # fmt: skip
def test_segment_counter(body: str, segments: int) -> None:
    assert count_segments(body) == segments


def test_smart_encoding_keeps_curly_quotes_in_gsm7() -> None:
    body = "You’re doing great — keep going! " * 4  # 132 chars
    assert (count_segments(body), count_segments(body, smart_encoded=True)) == (2, 1)


def test_runs_standalone_and_prints_its_address() -> None:
    command = [sys.executable, "-m", "tests.emulators.twilio_api", "--port", "0"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            lines = [process.stdout.readline().strip() for _ in range(3)]
        finally:
            process.terminate()
    assert lines[0].startswith("base_url=http://127.0.0.1:")
    assert lines[1] == "account_sid=AC" + "1" * 32 and lines[2].startswith("auth_token=")


async def test_advanced_opt_out_answers_keywords_itself_and_says_so(
    emu: TwilioEmulator, receiver: Receiver
) -> None:
    url = f"{receiver.base_url}/sms/inbound"
    await emu.send_inbound(url, from_=STUDENT, to=SENDER, body="STOP")
    assert "OptOutType" not in receiver.seen[0].form  # off unless the service enables it
    assert emu.keyword_replies == [] and not emu.is_opted_out(STUDENT)
    emu.advanced_opt_out = True
    for body in (" stop ", "STOP please", "info", "Yes"):
        await emu.send_inbound(url, from_=STUDENT, to=SENDER, body=body)
    types = [seen.form.get("OptOutType") for seen in receiver.seen[1:]]
    assert types == ["STOP", None, "HELP", "START"]  # the whole body is the keyword, or none
    assert [to for to, _ in emu.keyword_replies] == [STUDENT] * 3
    assert "unsubscribed" in emu.keyword_replies[0][1]
    assert not emu.is_opted_out(STUDENT)  # YES opted back in
    await emu.send_inbound(url, from_=STUDENT, to=SENDER, body="Cancel")
    assert (await create_error(emu)).code == 21610  # Twilio blocks what we send after STOP
