"""`mentorbot invite mentor|admin` and `mentorbot import mentors`."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from pathlib import Path

import typer

from bot.cli_nudges import _run_import, import_app
from bot.settings import Settings

invite_app = typer.Typer(help="Invite a mentor or an admin: prints a single-use Telegram link.",
                         no_args_is_help=True)


class Role(StrEnum):
    mentor = "mentor"
    admin = "admin"


@invite_app.command("mentor")
def invite_mentor(name: str = typer.Option(..., "--name"),
                  lms_id: str | None = typer.Option(None, "--lms-id")) -> None:  # fmt: skip
    """A link that makes whoever opens it the mentor NAME (the person with LMS_ID, if given)."""
    print(_invite(Role.mentor, name, lms_id))


@invite_app.command("admin")
def invite_admin(name: str = typer.Option(..., "--name")) -> None:
    """A link that makes whoever opens it an admin."""
    print(_invite(Role.admin, name, None))


def _invite(role: Role, name: str, lms_id: str | None) -> str:
    from bot.app import prepare_database
    from bot.clock import SystemClock
    from storage.mentors import create_invitation

    settings = Settings(demo_seed=False)
    username = settings.telegram.username
    db = prepare_database(settings, SystemClock())
    ttl = timedelta(days=settings.escalations.invitation_days)
    token = db.run_sync(lambda s: create_invitation(s, role.value, name.strip(), lms_id,
                                                    SystemClock().now(), ttl))  # fmt: skip
    db.close()
    if not username:
        typer.echo("MENTORBOT_TELEGRAM__USERNAME is not set; in the web chat type: "
                   f"/start {token}", err=True)  # fmt: skip
        return f"https://t.me/<bot username>?start={token}"
    return f"https://t.me/{username}?start={token}"


@import_app.command("mentors")
def import_mentors(file: Path) -> None:
    """Import mentors from CSV (name, lms_id, languages, time_zone, working_hours, capacity)."""
    from storage.mentor_import import ingest_mentors

    _run_import(file, ingest_mentors, dict)
