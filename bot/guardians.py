"""Linking parents to students: `POST /api/v1/guardians` and `mentorbot import guardians`."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Header, HTTPException
from pydantic import BaseModel, Field
from sqlmodel import Session

from bot.api_auth import require_api_token
from bot.settings import SUPPORTED_LOCALES
from handlers.phones import PhoneKind, check_phone
from scheduler.quiet_hours import is_known_zone
from storage import audit
from storage.guardians import GuardianLink, ensure_parent, link_guardian, student_by_ref

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
CSV_COLUMNS = ("parent_phone", "student", "parent_name", "locale", "time_zone", "digest_day")


class GuardianIn(BaseModel):
    parent_phone: str = Field(max_length=64)
    student: str = Field(min_length=1, max_length=128, description="LMS id or person id")
    parent_name: str | None = Field(default=None, max_length=200)
    locale: str | None = None
    time_zone: str | None = None
    digest_day: str | int = 0  # 0-6 (Monday = 0) or a weekday name


class GuardianRejected(ValueError):
    """A row that cannot become a guardian link; the message says why."""


def weekday_of(value: str | int) -> int:
    text = str(value).strip().casefold()
    if text.isdigit() and 0 <= int(text) <= 6:
        return int(text)
    for number, name in enumerate(WEEKDAYS):
        if len(text) >= 3 and name.startswith(text):
            return number
    raise GuardianRejected(f"unknown digest day {value!r}")


def add_guardian(session: Session, item: GuardianIn, now: datetime) -> GuardianLink:
    """Validate one row and link the parent (created if new) to the student."""
    phone = check_phone(item.parent_phone)
    if phone.kind is not PhoneKind.US or phone.e164 is None:
        raise GuardianRejected(f"parent phone is not a US mobile number ({phone.kind})")
    locale = (item.locale or "en").strip() or "en"
    if locale not in SUPPORTED_LOCALES:
        raise GuardianRejected(f"unsupported locale {locale!r}")
    zone = (item.time_zone or "").strip() or None
    if zone is not None and not is_known_zone(zone):
        raise GuardianRejected(f"unknown time zone {zone!r}")
    weekday = weekday_of(item.digest_day)
    student = student_by_ref(session, item.student.strip())
    if student is None:
        raise GuardianRejected(f"no student {item.student!r}")
    parent = ensure_parent(
        session, phone=phone.e164, name=item.parent_name, locale=locale, time_zone=zone, now=now
    )
    return link_guardian(session, parent, student, weekday, now)


@dataclass
class ImportSummary:
    linked: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (CSV line, reason)


def import_rows(db: Any, rows: Iterable[dict[str, str]], now: datetime) -> ImportSummary:
    """Each row in its own transaction: a bad row is reported, the good ones stay."""
    summary = ImportSummary()
    for line, raw in enumerate(rows, start=2):  # line 1 is the header
        try:
            item = GuardianIn(**{k: v for k, v in raw.items() if k in CSV_COLUMNS and v})
            db.run_sync(lambda s, item=item: add_guardian(s, item, now))
        except (GuardianRejected, ValueError) as exc:
            summary.rejected.append((line, _reason(exc)))
        else:
            summary.linked += 1
    return summary


def import_csv(db: Any, path: Path, now: datetime) -> ImportSummary:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return import_rows(db, csv.DictReader(handle), now)


def _reason(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors())
    return str(exc)


def _linked_by_api(session: Session, item: GuardianIn, now: datetime) -> GuardianLink:
    link = add_guardian(session, item, now)
    audit.record(session, actor="api", action="guardian.link", now=now,
                 params={"guardian": link.guardian_id, "parent": link.parent_id,
                         "student": link.student_id})  # fmt: skip
    return link


def router(runtime: Any) -> APIRouter:
    api = APIRouter(prefix="/api/v1", tags=["guardians"])

    @api.post("/guardians", status_code=201)
    async def create(
        body: GuardianIn, authorization: str | None = Header(default=None)
    ) -> dict[str, Any]:
        require_api_token(runtime, authorization)
        now = runtime.clock.now()
        try:
            link = await runtime.db.run(lambda s: _linked_by_api(s, body, now))
        except GuardianRejected as exc:
            raise HTTPException(422, str(exc)) from None
        return {
            "guardian_id": link.guardian_id,
            "parent_id": link.parent_id,
            "student_id": link.student_id,
            "created": link.created,
        }

    return api
