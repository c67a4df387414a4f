"""The `warroom` command: serve, migrate, check the policy."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from bot.config import Settings
from bot.errors import ConfigurationError
from bot.policy.schema import load_policy
from bot.storage.database import pending_migrations, sync_url, upgrade_database

cli = typer.Typer(no_args_is_help=True, add_completion=False, help="warroom incident bot")
db_cli = typer.Typer(no_args_is_help=True, help="Database schema")
cli.add_typer(db_cli, name="db")


def _fail(message: str) -> typer.Exit:
    typer.secho(message, err=True, fg=typer.colors.RED)
    return typer.Exit(code=2)


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # The ticker runs every second; its per-run lines would drown everything else.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 3000,
) -> None:
    """Serve Slack requests, /healthz and /readyz."""
    settings = Settings()
    _configure_logging(settings.log_level)
    try:
        load_policy(settings.config_path)
        url = sync_url(settings.database_url)
    except ConfigurationError as error:
        raise _fail(str(error)) from error
    if url.get_backend_name() == "sqlite":
        upgrade_database(settings.database_url)  # one process owns a SQLite file: migrate it
    else:
        pending = pending_migrations(settings.database_url)
        if pending:
            raise _fail(
                f"the database schema is behind ({len(pending)} migration(s) pending): "
                "run `warroom db upgrade` first"
            )
    from bot.app import create_app  # imported late: the web stack is not needed by other commands

    uvicorn.run(create_app(settings), host=host, port=port, log_level=settings.log_level.lower())


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration to WARROOM_DATABASE_URL."""
    settings = Settings()
    try:
        upgrade_database(settings.database_url)
    except ConfigurationError as error:
        raise _fail(str(error)) from error
    typer.echo(f"database at {sync_url(settings.database_url).render_as_string()} is up to date")


@cli.command("check-config")
def check_config(
    path: Annotated[
        Path | None, typer.Argument(help="Policy file (default: WARROOM_CONFIG)")
    ] = None,
) -> None:
    """Validate a policy file and print the effective policy."""
    settings = Settings()
    target = path or settings.config_path
    try:
        policy = load_policy(target)
    except ConfigurationError as error:
        raise _fail(str(error)) from error
    source = str(target) if target else "built-in defaults"
    typer.echo(f"# effective policy ({source})")
    typer.echo(policy.as_yaml(), nl=False)
    if settings.announce_channel:
        typer.echo(
            f"# WARROOM_ANNOUNCE_CHANNEL={settings.announce_channel} overrides announce_channel"
        )
    missing = settings.missing_slack_settings()
    if missing:
        typer.echo(f"# Slack not configured: set {', '.join(missing)}", err=True)


def main() -> None:
    cli(prog_name="warroom")


if __name__ == "__main__":
    main()
