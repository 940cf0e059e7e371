"""Admins through the real engine: campaigns paused and resumed (the planner respects it), the
audit trail, the lift interval, and the role checked on every command and button."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.app import Runtime, build_runtime
from bot.channels.telegram_menus import ADMIN_MENU, MENTOR_MENU, STUDENT_MENU
from bot.clock import FakeClock
from bot.messages import Inbound
from bot.web import create_web_app
from handlers.admin import ADMIN_COMMANDS
from handlers.commands import COMMANDS
from handlers.mentor import STAFF_COMMANDS
from scheduler.lift import METHOD, lift
from storage.consent import append_consent
from storage.tables import AuditRecord, CampaignState, Delivery, Person
from tests.conftest import make_settings
from tests.transcript import Chatter, add_student

ADMIN_CHAT = "5151"
TOKEN = "admin-api-token"
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def runtime(database_url: str, clock: FakeClock) -> Iterator[Runtime]:
    settings = make_settings(database_url, admin_telegram_ids=[int(ADMIN_CHAT)],
                             api_token=TOKEN)  # fmt: skip
    rt = build_runtime(settings, clock=clock)
    yield rt
    rt.db.close()


def add_admin(runtime: Runtime, name: str = "Kai Morgan", locale: str = "en") -> Chatter:
    admin = add_student(runtime, name, eligible=False, locale=locale)

    def promote(session: object) -> None:
        person = session.execute(  # type: ignore[attr-defined]
            select(Person).where(Person.display_name == name)).scalars().one()
        person.role = "admin"

    runtime.db.run_sync(promote)
    return admin


def audit_rows(runtime: Runtime) -> list[tuple[str, dict[str, object]]]:
    query = select(AuditRecord.action, AuditRecord.params).order_by(AuditRecord.id)
    return [tuple(r) for r in runtime.db.run_sync(lambda s: s.execute(query).all())]


def test_lift_matches_a_hand_computed_example() -> None:
    # 150 of 1,000 nudged converted, 10 of 100 held out: d = 0.05,
    # se = sqrt(0.15*0.85/1000 + 0.10*0.90/100) = sqrt(0.0010275) = 0.0320546...
    found = lift(150, 1000, 10, 100)
    assert found.difference == pytest.approx(0.05)
    se = math.sqrt(0.0010275)
    assert found.low == pytest.approx(0.05 - 1.959964 * se, abs=1e-6)  # -0.012826
    assert found.high == pytest.approx(0.05 + 1.959964 * se, abs=1e-6)  # 0.112826
    assert found.low == pytest.approx(-0.012826, abs=1e-6) and not found.significant
    assert lift(300, 1000, 10, 100).significant  # 30% against 10%
    assert lift(5, 20, 1, 10).low is None  # too few people for an interval
    assert lift(0, 0, 0, 0).difference is None
    assert "Wald" in METHOD
    with pytest.raises(ValueError):
        lift(11, 10, 0, 10)


async def test_pause_and_resume_a_campaign_with_its_buttons(runtime: Runtime) -> None:
    kai = add_admin(runtime)
    [listing] = await kai.says("/campaigns")
    assert "welcome (running)" in listing.text and "lift" in listing.text
    assert any(c.id == "adm:pause:welcome" for c in listing.choices)
    [paused] = await kai.picks("adm:pause:welcome")
    assert "welcome is paused" in paused.text
    state = runtime.db.run_sync(lambda s: s.get(CampaignState, "welcome"))
    assert state is not None and state.paused
    report = runtime.db.run_sync(lambda s: runtime.nudges.planner.plan(s, runtime.clock.now()))
    assert "welcome" not in report.planned and report.planned  # the others are planned
    [again] = await kai.says("/campaigns")
    assert "welcome (paused)" in again.text
    await kai.picks("adm:resume:welcome")
    report = runtime.db.run_sync(lambda s: runtime.nudges.planner.plan(s, runtime.clock.now()))
    assert "welcome" in report.planned
    [unknown] = await kai.says("Pause", choice="adm:pause:nope")
    assert "There is no campaign nope" in unknown.text
    assert audit_rows(runtime) == [("campaign.pause", {"campaign": "welcome"}),
                                   ("campaign.resume", {"campaign": "welcome"})]
    [trail] = await kai.says("/audit")
    assert "campaign.pause · campaign=welcome" in trail.text
    assert f"person:{kai_id(runtime)}" in trail.text


def kai_id(runtime: Runtime) -> int:
    return runtime.db.run_sync(lambda s: s.execute(
        select(Person.id).where(Person.role == "admin")).scalar_one())  # fmt: skip


@pytest.mark.parametrize("locale", ["en", "es", "hi", "ru"])
async def test_everyone_else_is_refused_on_every_command_and_button(
    runtime: Runtime, locale: str
) -> None:
    student = add_student(runtime, "Sam Lee", locale=locale)
    mentor = add_admin(runtime, "Dana Brooks", locale=locale)
    runtime.db.run_sync(lambda s: setattr(s.execute(select(Person).where(
        Person.display_name == "Dana Brooks")).scalars().one(), "role", "mentor"))  # fmt: skip
    refusal = runtime.translator.for_locale(locale)._("That command is for admins.")
    if locale != "en":
        assert refusal != "That command is for admins."
    for who in (student, mentor):
        for command in ADMIN_COMMANDS:
            assert [r.text for r in await who.says(command)] == [refusal]
        for button in ("adm:pause:welcome", "adm:resume:welcome", "adm:campaigns:"):
            assert [r.text for r in await who.says("x", choice=button)] == [refusal]
    assert runtime.db.run_sync(lambda s: s.get(CampaignState, "welcome")) is None
    assert audit_rows(runtime) == []


async def test_an_admin_chat_id_is_an_admin_and_help_lists_both_menus(runtime: Runtime) -> None:
    chat = Chatter(runtime, "telegram", ADMIN_CHAT)
    [mentor_part, admin_part] = await chat.says("/help")
    assert "/queue" in mentor_part.text and "/campaigns" in admin_part.text
    [listing] = await chat.says("/campaigns")
    assert "Campaigns:" in listing.text
    # The same chat id on another channel is nobody special.
    other = Chatter(runtime, "webchat", ADMIN_CHAT)
    [refused] = await other.says("/campaigns")
    assert refused.text == "That command is for admins."


def test_every_menu_entry_is_a_working_command() -> None:
    assert {name for name, _about in STUDENT_MENU} <= {c.lstrip("/") for c in COMMANDS}
    working = {c.lstrip("/") for c in (*ADMIN_COMMANDS, *STAFF_COMMANDS)} | {"settings", "help"}
    assert {name for name, _about in MENTOR_MENU} <= working
    assert {name for name, _about in ADMIN_MENU} <= working
    assert {c.lstrip("/") for c in ADMIN_COMMANDS} <= {name for name, _about in ADMIN_MENU}


def add_campaign_rows(runtime: Runtime, campaign: str, *, sent: int, converted: int,
                      holdout: int, holdout_converted: int) -> None:  # fmt: skip
    now = runtime.clock.now()

    def rows(session: object) -> None:
        for i in range(sent + holdout):
            treated = i < sent
            won = i < converted if treated else i - sent < holdout_converted
            session.add(Delivery(  # type: ignore[attr-defined]
                person_id=None, channel="telegram", address=f"c{i}", kind="nudge",
                text="x" if treated else "", status="sent" if treated else "holdout",
                campaign_id=campaign, due_at=now, created_at=now, updated_at=now,
                sent_at=now if treated else None, outcome="converted" if won else "expired"))

    runtime.db.run_sync(rows)


async def test_stats_figures_charts_and_the_api(runtime: Runtime) -> None:
    ana, ben = add_student(runtime, "Ana"), add_student(runtime, "Ben")
    add_student(runtime, "Cy")  # eligible, never wrote: not offered yet
    add_student(runtime, "Di", eligible=False)
    await ana.says("hi")
    await ana.says("415 555 2671")
    await ana.picks("yes")
    await ben.says("hi")
    # 10 of 40 nudged converted, 2 of 40 held out: lift +20.0%, se = sqrt(0.005875).
    add_campaign_rows(runtime, "welcome", sent=40, converted=10, holdout=40, holdout_converted=2)
    kai = add_admin(runtime)
    figures, *charts = await kai.says("/stats")
    assert "3 eligible → 2 offered → 1 gave a phone → 1 consented: 50% of offered" in (
        figures.text)
    assert "(target 60%)" in figures.text and "admin 1" in figures.text
    assert "welcome: 40 planned, 40 sent" in figures.text
    assert "lift +20.0% [+5.0%, +35.0%]" in figures.text and "Wald" in figures.text
    assert [c.attachment.name for c in charts if c.attachment] == [
        "consent-funnel.png", "nudges-by-day.png", "escalations-by-day.png"]
    assert all(c.attachment and c.attachment.data.startswith(PNG) for c in charts)
    client = TestClient(create_web_app(runtime))
    assert client.get("/api/v1/stats").status_code == 401
    body = client.get("/api/v1/stats", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    assert body["consent_funnel"]["consent_rate"] == 0.5
    welcome = body["campaigns"]["30d"]["welcome"]
    assert welcome["lift"] == pytest.approx(0.2)
    assert welcome["lift_ci95"] == pytest.approx([0.2 - 1.959964 * math.sqrt(0.005875),
                                                  0.2 + 1.959964 * math.sqrt(0.005875)])


async def test_find_mentors_admins_invite_and_remove(runtime: Runtime) -> None:
    kai = add_admin(runtime)
    add_student(runtime, "Ana García")
    dana = add_admin(runtime, "Dana Brooks")
    runtime.db.run_sync(lambda s: setattr(s.execute(select(Person).where(
        Person.display_name == "Dana Brooks")).scalars().one(), "role", "mentor"))  # fmt: skip
    [card] = await kai.says("/find ana garcia")  # typo-tolerant, case-insensitive
    assert card.text.startswith("Ana García") and "Consent:" in card.text
    [none] = await kai.says("/find Zebulon")
    assert "No student matches" in none.text
    [usage] = await kai.says("/find")
    assert "/find NAME|LMS id" in usage.text
    [listing] = await kai.says("/mentors")
    assert "Dana Brooks: 0 of 10 conversations, available" in listing.text
    dana_id = runtime.db.run_sync(lambda s: s.execute(select(Person.id).where(
        Person.display_name == "Dana Brooks")).scalar_one())  # fmt: skip
    [link] = await kai.picks("adm:invite:mentor")
    assert "single-use invitation" in link.text and "/start " in link.text  # no bot username
    token = link.text.rsplit(" ", 1)[-1]
    newcomer = add_student(runtime, "Noor", eligible=False)
    welcome = await runtime.engine.handle(Inbound("webchat", newcomer.address, "join-1",
                                                  f"/start {token}", link_token=token))
    assert "Welcome, Noor! You are now a mentor" in welcome.outbound[0].reply.text
    roles = runtime.db.run_sync(lambda s: s.execute(select(Person.role).where(
        Person.display_name == "Noor")).scalars().all())  # fmt: skip
    assert roles == ["mentor"]  # whoever opened the link became a mentor, name kept
    [removed] = await kai.picks(f"adm:remove:{dana_id}")
    assert "Dana Brooks is no longer a mentor" in removed.text
    [refused] = await dana.says("/queue")
    assert refused.text == "That command is for mentors."
    [admins_list] = await kai.says("/admins")
    assert "Kai Morgan" in admins_list.text and ADMIN_CHAT in admins_list.text
    assert [a for a, _p in audit_rows(runtime)] == ["mentor.invite", "mentor.remove"]


async def test_export_sends_four_csv_files(runtime: Runtime) -> None:
    kai = add_admin(runtime)
    ana = add_student(runtime, "Ana")
    await ana.says("hi")
    await ana.says("415 555 2671")
    await ana.picks("yes")
    add_campaign_rows(runtime, "welcome", sent=40, converted=10, holdout=40, holdout_converted=2)
    files = await kai.says("/export 7")
    names = [f.attachment.name.split("-")[0] for f in files if f.attachment]
    assert names == ["consent", "deliveries", "escalations", "campaign_results"]
    consent = list(csv.reader(io.StringIO(files[0].attachment.data.decode())))  # type: ignore[union-attr]
    assert consent[0][:4] == ["id", "person_id", "purpose", "decision"]
    assert [row[2:4] for row in consent[1:]] == [["coaching", "granted"]]
    results = list(csv.DictReader(io.StringIO(files[3].attachment.data.decode())))  # type: ignore[union-attr]
    assert results[0]["campaign_id"] == "welcome" and float(results[0]["lift"]) == 0.2
    [bad] = await kai.says("/export forever")
    assert "/export [1–366 days]" in bad.text
    assert audit_rows(runtime) == [("export", {"days": 7})]


async def test_the_same_over_http_with_the_token(runtime: Runtime) -> None:
    ana = add_student(runtime, "Ana")
    await ana.says("hi")
    add_campaign_rows(runtime, "welcome", sent=40, converted=10, holdout=40, holdout_converted=2)
    client = TestClient(create_web_app(runtime))
    auth = {"Authorization": f"Bearer {TOKEN}"}
    paths = ["/api/v1/campaigns", "/api/v1/export/deliveries", "/api/v1/deliveries",
             "/api/v1/escalations", "/api/v1/students", "/api/v1/guardians", "/api/v1/stats"]
    for path in paths:
        assert client.get(path).status_code == 401, path
        assert client.get(path, headers={"Authorization": "Bearer nope"}).status_code == 401
        assert client.get(path, headers=auth).status_code == 200, path
    assert client.post("/api/v1/campaigns/welcome/pause").status_code == 401
    paused = client.post("/api/v1/campaigns/welcome/pause", headers=auth).json()
    assert paused == {"id": "welcome", "paused": True, "changed": True}
    listed = {c["id"]: c for c in client.get("/api/v1/campaigns", headers=auth).json()}
    assert listed["welcome"]["paused"] and listed["welcome"]["results_30d"]["sent"] == 40
    assert client.post("/api/v1/campaigns/nope/pause", headers=auth).status_code == 404
    assert client.post("/api/v1/campaigns/welcome/explode", headers=auth).status_code == 422
    assert client.get("/api/v1/export/secrets", headers=auth).status_code == 422
    csv_body = client.get("/api/v1/export/campaign_results?days=7", headers=auth)
    assert csv_body.headers["content-type"].startswith("text/csv")
    assert csv_body.text.splitlines()[1].startswith("welcome,40,40")
    found = client.get("/api/v1/students?q=An", headers=auth).json()
    assert [s["display_name"] for s in found] == ["Ana"]
    assert audit_rows(runtime) == [("campaign.pause", {"campaign": "welcome"})]
    schema = client.get("/openapi.json").json()
    assert {"/api/v1/stats", "/api/v1/campaigns/{campaign_id}/{action}"} <= set(schema["paths"])


async def test_review_resends_or_drops_once(runtime: Runtime) -> None:
    kai = add_admin(runtime)
    now = runtime.clock.now()

    def held(session: object) -> list[int]:
        rows = [Delivery(person_id=None, channel="sms", address="+14155552671", kind="reply",
                         text=f"answer {i}", status="review", error="outcome unknown",
                         due_at=now, created_at=now, updated_at=now) for i in range(2)]
        session.add_all(rows)  # type: ignore[attr-defined]
        session.flush()  # type: ignore[attr-defined]
        return [r.id for r in rows]

    first, second = runtime.db.run_sync(held)
    listing = await kai.says("/review")
    assert [c.id for c in listing[0].choices] == [f"adm:resend:{first}", f"adm:drop:{first}"]
    assert "outcome unknown" in listing[0].text and "answer 0" in listing[0].text
    [resent] = await kai.says("Resend", choice=f"adm:resend:{first}")
    assert "goes out again" in resent.text
    [again] = await kai.says("Resend", choice=f"adm:resend:{first}")
    assert "is not waiting for review" in again.text
    await kai.says("Drop", choice=f"adm:drop:{second}")
    statuses = runtime.db.run_sync(lambda s: [s.get(Delivery, i).status for i in (first, second)])
    assert statuses == ["pending", "suppressed"]
    [empty] = await kai.says("/review")
    assert "Nothing is waiting for review" in empty.text
    assert [a for a, _p in audit_rows(runtime)] == ["delivery.resend", "delivery.drop"]


def person_id(runtime: Runtime, name: str) -> int:
    return runtime.db.run_sync(lambda s: s.execute(
        select(Person.id).where(Person.display_name == name)).scalar_one())  # fmt: skip


def grant_reminders(runtime: Runtime, name: str) -> None:
    pid, now = person_id(runtime, name), runtime.clock.now()
    runtime.db.run_sync(lambda s: append_consent(
        s, person_id=pid, purpose="nudges", decision="granted", phone=None, channel="webchat",
        text_version="v1", locale=None, source_message_id=None, now=now))  # fmt: skip


async def test_broadcast_to_a_segment_through_the_sending_rules(runtime: Runtime) -> None:
    kai = add_admin(runtime)
    ana, lucia = add_student(runtime, "Ana Lopez"), add_student(runtime, "Lucía Torres",
                                                               locale="es")  # fmt: skip
    add_student(runtime, "Bo Kim")  # no consent for reminders: not in the audience
    grant_reminders(runtime, "Ana Lopez")
    grant_reminders(runtime, "Lucía Torres")
    [menu] = await kai.says("/broadcast")
    assert "adm:bct:office_hours" in [c.id for c in menu.choices]
    [kinds] = await kai.picks("adm:bct:office_hours")
    program = next(c.id for c in kinds.choices if c.id.endswith(":program"))
    [values] = await kai.picks(program)
    [preview] = await kai.picks(next(c.id for c in values.choices
                                     if c.id.endswith(":microbachelors-cs")))  # fmt: skip
    assert "3 students in the group, 2 with consent" in preview.text
    assert "[es] ¡Hola, Lucía!" in preview.text and "[en] Hi Ana!" in preview.text
    [sent] = await kai.picks(next(c.id for c in preview.choices if ":bcgo:" in c.id))
    assert "on its way to 2 students" in sent.text
    go = next(c.id for c in preview.choices if ":bcgo:" in c.id)
    [again] = await kai.says("Send", choice=go)
    assert "sent or cancelled already" in again.text
    rows = runtime.db.run_sync(lambda s: {d.person_id: d for d in s.execute(select(Delivery)
        .where(Delivery.campaign_id == "broadcast-1")).scalars()})  # fmt: skip
    assert set(rows) == {person_id(runtime, "Ana Lopez"), person_id(runtime, "Lucía Torres")}
    assert rows[person_id(runtime, "Lucía Torres")].text.startswith("¡Hola, Lucía!")
    assert {r.kind for r in rows.values()} == {"nudge"}
    # Ana says STOP in the web chat before it goes: what was queued for her chat is cancelled.
    await ana.says("STOP")
    # Lucía lives in India: 20:30 there, past the sending window, so hers waits for morning.
    lucia_id = person_id(runtime, "Lucía Torres")
    runtime.db.run_sync(lambda s: setattr(s.get(Person, lucia_id), "time_zone", "Asia/Kolkata"))

    def statuses() -> dict[int | None, str]:
        return runtime.db.run_sync(lambda s: {d.person_id: d.status for d in s.execute(
            select(Delivery).where(Delivery.campaign_id == "broadcast-1")).scalars()})  # fmt: skip

    await runtime.dispatcher.drain()
    assert statuses() == {person_id(runtime, "Ana Lopez"): "cancelled", lucia_id: "held"}
    runtime.clock.advance(timedelta(hours=14))  # 10:30 in Kolkata
    await runtime.dispatcher.drain()
    assert statuses()[lucia_id] == "sent"
    assert lucia.address  # reached on her own chat
    assert [a for a, _p in audit_rows(runtime)] == ["broadcast.send"]


def test_api_calls_that_change_something_are_audited(runtime: Runtime) -> None:
    client = TestClient(create_web_app(runtime))
    auth = {"Authorization": f"Bearer {TOKEN}"}
    students = {"students": [{"lms_id": "lms-zoe", "name": "Zoe Park"}]}
    assert client.post("/api/v1/students", json=students, headers=auth).status_code == 200
    events = {"events": [{"id": "e-1", "student": "lms-zoe", "type": "login",
                          "occurred_at": "2026-11-23T14:00:00Z"}]}  # fmt: skip
    assert client.post("/api/v1/events", json=events, headers=auth).status_code == 200
    guardian = {"parent_phone": "+14155550123", "student": "lms-zoe", "parent_name": "Pat"}
    assert client.post("/api/v1/guardians", json=guardian, headers=auth).status_code == 201
    zoe = person_id(runtime, "Zoe Park")
    assert client.delete(f"/api/v1/people/{zoe}", headers=auth).status_code == 204
    actions = audit_rows(runtime)
    assert [a for a, _p in actions] == ["students.import", "events.import", "guardian.link",
                                        "person.erase"]  # fmt: skip
    assert actions[0][1] == {"stored": 1, "rejected": 0}
    assert all("Zoe" not in str(p) for _a, p in actions)  # ids and counts, never names
