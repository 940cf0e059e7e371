"""HTTP face of the Twilio emulator: the v2010 Messages endpoints, Twilio's error bodies."""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

import aiohttp
from aiohttp import web

from tests.emulators.twilio_messages import API_VERSION, EmulatedMessage

if TYPE_CHECKING:
    from tests.emulators.twilio_api import TwilioEmulator

# Twilio's test-credential magic numbers (docs: iam/test-credentials, "Test SMS messages").
MAGIC_TO_ERRORS: dict[str, int] = {
    "+15005550001": 21211,
    "+15005550002": 21612,
    "+15005550003": 21408,
    "+15005550004": 21610,
    "+15005550009": 21614,
}
MAGIC_FROM_ERRORS: dict[str, int] = {
    "+15005550001": 21212,
    "+15005550007": 21606,
    "+15005550008": 21611,
}
ERROR_MESSAGES: dict[int, str] = {
    20003: "Authenticate",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    20500: "An internal server error has occurred",
    21211: "The 'To' number {to} is not a valid phone number.",
    21212: "The 'From' number {from_} is not a valid phone number, shortcode, "
    "or alphanumeric sender ID.",
    21408: "Permission to send an SMS has not been enabled for the region indicated "
    "by the 'To' number: {to}.",
    21602: "Message body is required.",
    21603: "A 'From' phone number is required.",
    21604: "A 'To' phone number is required.",
    21606: "The 'From' phone number provided ({from_}) is not a valid message-capable "
    "Twilio phone number for this destination.",
    21609: "Invalid StatusCallback url",
    21610: "Attempt to send to unsubscribed recipient",
    21611: "This 'From' number has exceeded the maximum number of queued messages",
    21612: "The 'To' phone number: {to}, is not currently reachable using the 'From' "
    "phone number: {from_} via SMS.",
    21614: "'To' number is not a valid mobile number",
    21617: "The concatenated message body exceeds the 1600 character limit.",
    21624: "Invalid validity period value",
}
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_PREFIX = f"/{API_VERSION}/Accounts/{{account}}/Messages"


def error_body(code: int, status: int, to: str = "", from_: str = "") -> dict[str, Any]:
    """Twilio's classic REST error JSON (v2010 does not use RFC 9457 problem details)."""
    return {
        "code": code,
        "message": ERROR_MESSAGES.get(code, "Error").format(to=to, from_=from_),
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def error_response(code: int, status: int, **details: str) -> web.Response:
    return web.json_response(error_body(code, status, **details), status=status)


class MessagesApi:
    """POST/GET Messages.json and GET Messages/{Sid}.json over the emulator's state."""

    def __init__(self, emulator: TwilioEmulator) -> None:
        self._emu = emulator

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(_PREFIX + ".json", self.create)
        app.router.add_get(_PREFIX + ".json", self.list)
        app.router.add_get(_PREFIX + "/{sid}.json", self.fetch)
        return app

    async def create(self, request: web.Request) -> web.StreamResponse:
        emu = self._emu
        emu.counters["create_requests"] += 1
        if denied := self._authorize(request):
            return denied
        if emu.take_fault("429"):
            emu.counters["http_429"] += 1
            return error_response(20429, 429)
        if emu.take_fault("500"):
            emu.counters["http_500"] += 1
            return error_response(20500, 500)
        form = {key: str(value) for key, value in (await request.post()).items()}
        if code := self.rejection_code(form):
            emu.counters["rejected"] += 1
            return error_response(code, 400, to=form.get("To", ""), from_=form.get("From", ""))
        message = emu.accept(form)
        if lost := emu.take_fault("timeout_after_create", "drop_after_create"):
            return await self._lose_answer(request, hold=lost == "timeout_after_create")
        return web.json_response(message.to_json(), status=201)

    async def fetch(self, request: web.Request) -> web.StreamResponse:
        if denied := self._authorize(request):
            return denied
        self._emu.counters["fetches"] += 1
        message = self._emu.find(request.match_info["sid"])
        if message is None:
            return error_response(20404, 404)
        return web.json_response(message.to_json())

    async def list(self, request: web.Request) -> web.StreamResponse:
        if denied := self._authorize(request):
            return denied
        self._emu.counters["lists"] += 1
        filters = {key: request.query[key] for key in ("To", "From") if key in request.query}
        matches = [
            m for m in reversed(self._emu.messages)  # newest first, as Twilio lists
            if m.to == filters.get("To", m.to) and m.from_ == filters.get("From", m.from_)
        ]  # fmt: skip
        size = min(int(request.query.get("PageSize", 50)), 1000)
        page = int(request.query.get("Page", 0))
        return web.json_response(_page_body(matches, request.path, filters, page, size))

    def rejection_code(self, form: dict[str, str]) -> int | None:
        """The error Twilio answers a create with, checked in Twilio's order; None = accept."""
        to, sender = form.get("To", ""), form.get("From", "")
        body, validity = form.get("Body", ""), form.get("ValidityPeriod", "36000")
        callback_host = urlsplit(form.get("StatusCallback", "")).hostname or ""
        checks: list[tuple[bool, int]] = [
            (not to, 21604),
            (not sender and not form.get("MessagingServiceSid"), 21603),
            (sender in MAGIC_FROM_ERRORS, MAGIC_FROM_ERRORS.get(sender, 0)),
            (not body and "MediaUrl" not in form and "ContentSid" not in form, 21602),
            (len(body) > 1600, 21617),
            (not validity.isdigit() or not 1 <= int(validity) <= 36000, 21624),
            ("_" in callback_host, 21609),  # Twilio rejects underscores in callback hosts
            (self._emu.is_opted_out(to), 21610),
            (self._emu.is_invalid(to) or not _E164.match(to), 21211),
            (to in MAGIC_TO_ERRORS, MAGIC_TO_ERRORS.get(to, 0)),
        ]
        code = next((code for failed, code in checks if failed), None)
        if code is None and self._emu.take_fault("21610"):
            return 21610
        return code

    def _authorize(self, request: web.Request) -> web.Response | None:
        try:
            creds = aiohttp.BasicAuth.decode(request.headers.get("Authorization", ""))
        except ValueError:
            creds = None
        expected = (self._emu.account_sid, self._emu.auth_token)
        same_account = request.match_info["account"] == self._emu.account_sid
        if creds and (creds.login, creds.password) == expected and same_account:
            return None
        self._emu.counters["http_401"] += 1
        body = error_body(20003, 401) | {"detail": "Your AccountSid or AuthToken was incorrect."}
        return web.json_response(body, status=401)

    async def _lose_answer(self, request: web.Request, *, hold: bool) -> web.Response:
        """The message exists but the client never gets the answer ("sent, answer lost")."""
        if hold:
            self._emu.counters["held_answers"] += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._emu.released.wait(), self._emu.hold_seconds)
        if request.transport is not None:
            request.transport.close()
        return web.Response(status=201)


def _page_body(
    matches: list[EmulatedMessage], path: str, filters: dict[str, str], page: int, size: int
) -> dict[str, Any]:
    def page_uri(number: int) -> str:
        return f"{path}?{urlencode({**filters, 'PageSize': size, 'Page': number})}"

    chunk = matches[page * size : (page + 1) * size]
    has_next = (page + 1) * size < len(matches)
    return {
        "messages": [m.to_json() for m in chunk],
        "page": page,
        "page_size": size,
        "start": page * size,
        "end": page * size + max(len(chunk) - 1, 0),
        "uri": page_uri(page),
        "first_page_uri": page_uri(0),
        "next_page_uri": page_uri(page + 1) if has_next else None,
        "previous_page_uri": page_uri(page - 1) if page > 0 else None,
    }
