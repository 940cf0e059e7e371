"""The `mentorbot` command line."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from bot.cli_mentors import invite_app
from bot.cli_nudges import import_app, nudges_app
from bot.settings import Settings

cli = typer.Typer(
    help="mentorbot: a chat-first mentor bot (Telegram, SMS, web chat).",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True)
cli.add_typer(import_app, name="import")
cli.add_typer(nudges_app, name="nudges")
cli.add_typer(invite_app, name="invite")


@cli.command()
def run(host: str | None = None, port: int | None = None) -> None:
    """Run the service: web app, web chat, configured channels and the scheduler."""
    import uvicorn

    from bot.app import build_runtime
    from bot.logs import configure_logging
    from bot.web import create_web_app

    settings = Settings()
    configure_logging(json=settings.environment == "production")
    runtime = build_runtime(settings)
    host, port = host or settings.http.host, port or settings.http.port
    console.print(f"[bold green]mentorbot[/] database: {_describe_db(settings)}")
    console.print(
        f"Web chat: [link]http://{host}:{port}/chat[/]  ·  health: /healthz  ·  "
        f"metrics: /metrics  ·  API docs: /docs  (Ctrl-C stops)"
    )
    uvicorn.run(create_web_app(runtime), host=host, port=port, log_level="warning")


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
    """Print a t.me deep link that ties a student's Telegram chat to LMS_ID."""
    from bot.channels.telegram import make_bot
    from bot.channels.telegram_links import LinkMaker, LinksUnavailable
    from bot.links import LinkTokenError

    settings = Settings()
    try:
        print(asyncio.run(_make_link(settings, lms_id, make_bot, LinkMaker)))
    except (LinksUnavailable, LinkTokenError) as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc


async def _make_link(settings: Settings, lms_id: str, make_bot: Any, maker: Any) -> str:
    bot = make_bot(settings) if settings.telegram_enabled else None
    try:
        return (await maker(settings, bot).link(lms_id)).url
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
