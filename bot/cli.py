"""The `mentorbot` command line."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from bot.cli_mentors import invite_app
from bot.cli_nudges import import_app, nudges_app
from bot.roles import Role
from bot.settings import Settings

if TYPE_CHECKING:  # aiogram takes seconds to import: only the telegram-link command pays for it
    from bot.channels.telegram_links import DeepLink
    from storage.database import Database

cli = typer.Typer(
    help="mentorbot: a chat-first mentor bot (Telegram, SMS, web chat).",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True)
cli.add_typer(import_app, name="import")
cli.add_typer(nudges_app, name="nudges")
cli.add_typer(invite_app, name="invite")


# On stop, HTTP requests in progress get this long (then the runtime's own stop: about 4 s
# for sends in flight), so a stopped process exits within a container's 10 s.
HTTP_STOP_GRACE_SECONDS = 2.0
ROLE_HELP = (
    "web: HTTP (web chat, APIs, webhooks); worker: Telegram polling, the scheduler and sending, "
    "with /healthz and /metrics only; all: both (the only choice on SQLite)"
)


@cli.command()
def run(
    host: str | None = None,
    port: int | None = None,
    role: Annotated[Role, typer.Option(help=ROLE_HELP)] = Role.ALL,
) -> None:
    """Run the service: web app, web chat, configured channels and the scheduler."""
    import uvicorn

    from bot.app import build_runtime
    from bot.logs import configure_logging
    from bot.web import create_health_app, create_web_app

    settings = Settings()
    configure_logging(json=settings.environment == "production")
    # `docker stop` and systemd send SIGTERM: stop as gracefully as on Ctrl-C, and exit 0.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    runtime = build_runtime(settings, role=role)
    host, port = host or settings.http.host, port or settings.http.port
    _announce(settings, role, f"http://{host}:{port}")
    app = create_web_app(runtime) if role.serves_http else create_health_app(runtime)
    uvicorn.run(app, host=host, port=port, log_level="warning",
                timeout_graceful_shutdown=HTTP_STOP_GRACE_SECONDS)  # fmt: skip


def _exit_cleanly(_signum: int, _frame: FrameType | None) -> None:
    """SIGTERM before uvicorn runs stops at once; while it runs, uvicorn takes the signal, stops
    gracefully, then raises it again, and this handler makes that a normal exit."""
    raise SystemExit(0)


def _announce(settings: Settings, role: Role, base: str) -> None:
    console.print(f"[bold green]mentorbot[/] ({role.value}) database: {_describe_db(settings)}")
    if role is not Role.ALL and settings.database_url.startswith("sqlite"):
        console.print("[yellow]SQLite has one writer: run one process with --role all; "
                      "separate web and worker processes need PostgreSQL.[/]")  # fmt: skip
    if role.serves_http:
        console.print(
            f"Web chat: [link]{base}/chat[/]  ·  health: /healthz  ·  "
            f"metrics: /metrics  ·  API docs: /docs  (Ctrl-C stops)"
        )
    else:
        console.print(f"Worker: health {base}/healthz  ·  metrics: /metrics  (Ctrl-C stops)")


@cli.command()
def chat(as_person: int | None = typer.Option(None, "--as", help="demo person id")) -> None:
    """Chat with the bot in this terminal (as a new visitor, or as a demo person)."""
    from bot.app import build_runtime
    from bot.channels.console import chat_loop
    from bot.logs import configure_logging
    from storage.people import link_identity

    configure_logging("WARNING")
    settings = Settings(scheduler={"enabled": False})
    runtime = build_runtime(settings)
    address = f"console-{as_person or 'visitor'}"
    if as_person is not None:
        runtime.db.run_sync(
            lambda s: link_identity(s, as_person, "console", address, runtime.clock.now())
        )
    console.print("Type a message; Ctrl-D quits.")
    asyncio.run(chat_loop(runtime.engine, address, _read_line, print))
    runtime.db.close()


@cli.command()
def migrate() -> None:
    """Apply database migrations."""
    from storage.migrate import upgrade

    settings = Settings()
    upgrade(settings.database_url)
    console.print(f"Migrated {_describe_db(settings)}")


@cli.command("seed-demo")
def seed_demo_command() -> None:
    """Load the demo cohort (again); people already there are kept as they are."""
    from bot.app import prepare_database
    from bot.clock import SystemClock
    from storage.demo import seed_demo

    settings = Settings(demo_seed=False)
    db = prepare_database(settings, SystemClock())
    added = db.run_sync(lambda s: seed_demo(s, SystemClock().now()))
    db.close()
    console.print(f"Demo cohort: {added} people added.")


@cli.command("telegram-link")
def telegram_link(lms_id: str) -> None:
    """Print a new t.me deep link that ties a student's Telegram chat to LMS_ID: single-use,
    valid for MENTORBOT_TELEGRAM__LINK_TTL_DAYS days (7)."""
    from bot.app import prepare_database
    from bot.channels.telegram_links import LinksUnavailable, UnknownStudent
    from bot.clock import SystemClock

    settings = Settings(demo_seed=False)
    db = prepare_database(settings, SystemClock())
    try:
        link = asyncio.run(_make_link(settings, lms_id, db))
    except (LinksUnavailable, UnknownStudent) as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc
    finally:
        db.close()
    print(link.url)
    console.print(f"Opens once; valid until {link.expires_at:%Y-%m-%d %H:%M} UTC.")


async def _make_link(settings: Settings, lms_id: str, db: Database) -> DeepLink:
    from bot.channels.telegram import make_bot
    from bot.channels.telegram_links import LinkMaker
    from bot.clock import SystemClock

    bot = make_bot(settings) if settings.telegram_enabled else None
    try:
        return await LinkMaker(settings, bot, db, SystemClock()).link(lms_id, actor="cli")
    finally:
        if bot is not None:
            await bot.session.close()


@import_app.command("guardians")
def import_guardians(path: Path) -> None:
    """Link parents to students from a CSV file (parent_phone, student, parent_name, locale,
    time_zone, digest_day); rejected rows are listed with the reason."""
    from bot.app import prepare_database
    from bot.clock import SystemClock
    from bot.guardians import import_csv

    settings = Settings(demo_seed=False)
    db = prepare_database(settings, SystemClock())
    summary = import_csv(db, path, SystemClock().now())
    db.close()
    console.print(f"Guardian links: {summary.linked} imported, {len(summary.rejected)} rejected.")
    for line, reason in summary.rejected:
        console.print(f"  line {line}: {reason}")
    if summary.rejected:
        raise typer.Exit(1)


def _read_line() -> str | None:
    try:
        return input("you> ")
    except EOFError:
        return None


def _describe_db(settings: Settings) -> str:
    url = settings.database_url
    return url if url.startswith("sqlite") else url.split("@")[-1]


def main() -> None:
    cli(sys.argv[1:])


if __name__ == "__main__":
    main()
