"""The admins' powers over HTTP (bearer MENTORBOT_API_TOKEN on every call): the same figures,
exports and campaign controls as the chat menu, plus read access to deliveries, escalations,
students and guardians. Changes are audited with actor "api"."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, HTTPException, Query
from fastapi.responses import PlainTextResponse
from sqlalchemy import or_, select
from sqlmodel import Session

from bot.admin_export import KINDS, MAX_DAYS, csv_text
from bot.admin_stats import campaign_json, snapshot
from bot.api_auth import require_api_token
from storage import audit
from storage.campaign_results import CampaignResult, campaign_results
from storage.campaign_states import paused_campaigns, set_paused
from storage.stats import EligibilityParams
from storage.tables import Delivery, Escalation, Guardian, Person

Auth = Annotated[str | None, Header()]
Limit = Annotated[int, Query(ge=1, le=1000)]
ExportKind = Literal["consent", "deliveries", "escalations", "campaign_results"]
assert set(ExportKind.__args__) == set(KINDS)  # type: ignore[attr-defined]


def _plain(row: Any, names: tuple[str, ...]) -> dict[str, Any]:
    out = {}
    for name in names:
        value = getattr(row, name)
        out[name] = value.isoformat() if hasattr(value, "isoformat") else value
    return out


_DELIVERY = ("id", "person_id", "channel", "kind", "campaign_id", "status", "error",
             "created_at", "due_at", "sent_at", "outcome")  # fmt: skip
_ESCALATION = ("id", "person_id", "status", "priority", "reasons", "tags", "mentor_id",
               "breaches", "created_at", "first_response_at", "closed_at")  # fmt: skip
_STUDENT = ("id", "lms_id", "display_name", "program", "track", "cohort", "grade", "locale",
            "time_zone", "under_13", "last_active_at")  # fmt: skip


def admin_routes(runtime: Any, rule: EligibilityParams, campaign_ids: frozenset[str]
                 ) -> APIRouter:  # fmt: skip
    api = APIRouter(prefix="/api/v1", tags=["admin"])

    async def read(authorization: str | None, work: Any) -> Any:
        require_api_token(runtime, authorization)
        return await runtime.db.run(work)

    @api.get("/stats")
    async def get_stats(authorization: Auth = None) -> dict[str, Any]:
        """People, the consent funnel against its target, opt-outs, campaigns over 7 and 30
        days with their lift against the holdout (95% interval), answers and escalations."""
        now = runtime.clock.now()
        return (await read(authorization, lambda s: snapshot(s, rule, now))).as_json()

    @api.get("/export/{kind}", response_class=PlainTextResponse)
    async def export(kind: ExportKind, days: Annotated[int, Query(ge=1, le=MAX_DAYS)] = 30,
                     authorization: Auth = None) -> PlainTextResponse:  # fmt: skip
        """One CSV file: consent records, deliveries, escalations or campaign results."""
        since = runtime.clock.now() - timedelta(days=days)
        body = await read(authorization, lambda s: csv_text(s, kind, since))
        return PlainTextResponse(body, media_type="text/csv")

    @api.get("/campaigns")
    async def campaigns(authorization: Auth = None) -> list[dict[str, Any]]:
        """Each campaign: paused or running, and its results over 30 days."""
        since = runtime.clock.now() - timedelta(days=30)

        def work(session: Session) -> list[dict[str, Any]]:
            paused, results = paused_campaigns(session), campaign_results(session, since)
            return [{"id": cid, "paused": cid in paused,
                     "results_30d": campaign_json(results.get(cid, CampaignResult(cid)))}
                    for cid in sorted(campaign_ids)]  # fmt: skip

        return await read(authorization, work)  # type: ignore[no-any-return]

    @api.post("/campaigns/{campaign_id}/{action}")
    async def pause_or_resume(campaign_id: str, action: Literal["pause", "resume"],
                              authorization: Auth = None) -> dict[str, Any]:  # fmt: skip
        """Pause (no new nudges are planned) or resume a campaign; audited."""
        require_api_token(runtime, authorization)
        if campaign_id not in campaign_ids:
            raise HTTPException(404, "no such campaign")
        now = runtime.clock.now()

        def work(session: Session) -> bool:
            changed = set_paused(session, campaign_id, action == "pause", now, None)
            if changed:
                audit.record(session, actor="api", action=f"campaign.{action}", now=now,
                             params={"campaign": campaign_id})  # fmt: skip
            return changed

        changed = await runtime.db.run(work)
        return {"id": campaign_id, "paused": action == "pause", "changed": changed}

    @api.get("/deliveries")
    async def deliveries(status: Annotated[str | None, Query(max_length=32)] = None,
                         limit: Limit = 100, authorization: Auth = None
                         ) -> list[dict[str, Any]]:  # fmt: skip
        """The latest deliveries, optionally by status (e.g. "review": held for review)."""
        query = select(Delivery).order_by(Delivery.id.desc()).limit(limit)  # type: ignore[union-attr]
        if status:
            query = query.where(Delivery.status == status)
        return await read(authorization, lambda s: [  # type: ignore[no-any-return]
            _plain(r, _DELIVERY) for r in s.execute(query).scalars()])  # fmt: skip

    @api.get("/escalations")
    async def escalation_list(status: Annotated[str | None, Query(max_length=32)] = None,
                              limit: Limit = 100, authorization: Auth = None
                              ) -> list[dict[str, Any]]:  # fmt: skip
        """The latest requests to mentors, optionally by status."""
        query = select(Escalation).order_by(Escalation.id.desc()).limit(limit)  # type: ignore[union-attr]
        if status:
            query = query.where(Escalation.status == status)
        return await read(authorization, lambda s: [  # type: ignore[no-any-return]
            _plain(r, _ESCALATION) for r in s.execute(query).scalars()])  # fmt: skip

    @api.get("/students")
    async def students(q: Annotated[str | None, Query(max_length=200)] = None,
                       limit: Limit = 100, authorization: Auth = None
                       ) -> list[dict[str, Any]]:  # fmt: skip
        """Students, optionally those whose name or LMS id contains `q`."""
        query = select(Person).where(Person.role == "student", Person.erased_at.is_(None))  # type: ignore[union-attr]
        if q:
            query = query.where(
                or_(
                    Person.display_name.contains(q, autoescape=True),  # type: ignore[union-attr]
                    Person.lms_id.contains(q, autoescape=True),
                )
            )  # type: ignore[union-attr]
        query = query.order_by(Person.id).limit(limit)
        return await read(authorization, lambda s: [  # type: ignore[no-any-return]
            _plain(r, _STUDENT) for r in s.execute(query).scalars()])  # fmt: skip

    @api.get("/guardians")
    async def guardians(limit: Limit = 100, authorization: Auth = None
                        ) -> list[dict[str, Any]]:  # fmt: skip
        """Parent–student links with the parent's digest weekday."""
        query = select(Guardian).order_by(Guardian.id).limit(limit)
        return await read(authorization, lambda s: [  # type: ignore[no-any-return]
            _plain(r, ("id", "parent_id", "student_id", "digest_weekday", "created_at"))
            for r in s.execute(query).scalars()])  # fmt: skip

    return api
