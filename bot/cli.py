"""The `warroom` command: serve, migrate, check the configuration, print the Slack manifest.

Every refusal is one line on stderr and exit code 2: a setting, a policy, a template or a
database that cannot be used is named, never shown as a traceback.
"""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from bot.config import Settings, load_settings
from bot.errors import ConfigurationError
from bot.observability.logs import LogFormat, configure_logging, default_format
from bot.observability.redaction import configured_secrets
from bot.policy.checks import levels_without_contacts, misspelt_roles
from bot.policy.schema import Policy, load_policy
from bot.postmortem.confluence import missing_environment as confluence_missing_environment
from bot.postmortem.document import check_document_templates
from bot.storage.database import pending_migrations, sync_url, upgrade_database
from bot.storage.incident_keys import track_incident_keys
from bot.text.templates import Renderer

cli = typer.Typer(no_args_is_help=True, add_completion=False, help="warroom incident bot")
db_cli = typer.Typer(no_args_is_help=True, help="Database schema")
cli.add_typer(db_cli, name="db")

log = logging.getLogger("warroom")

MANIFEST_HOST = "warroom.example.com"
# What slack_bolt logs when given a client while SLACK_BOT_TOKEN is set (see _configure_logging).
BOLT_CLIENT_TOKEN_WARNING = "As you gave `client` as well, `token` will be unused."


def _fail(message: str) -> typer.Exit:
    typer.secho(message, err=True, fg=typer.colors.RED)
    return typer.Exit(code=2)


def _version() -> str:
    try:
        return importlib.metadata.version("warroom")
    except importlib.metadata.PackageNotFoundError:  # a checkout that was never installed
        return "unknown (not installed)"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"warroom {_version()}")
        raise typer.Exit()


@cli.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """warroom incident bot"""


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigurationError as error:
        raise _fail(str(error)) from error


def _database_failure(url: str, error: SQLAlchemyError) -> typer.Exit:
    """The driver's own first line (connection refused, unable to open database file…)."""
    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        shown = "WARROOM_DATABASE_URL"
    reason = str(getattr(error, "orig", None) or error).strip().splitlines()
    return _fail(f"cannot use the database at {shown}: {reason[0] if reason else type(error)}")


class _DropBoltClientTokenWarning(logging.Filter):
    """slack_bolt reads SLACK_BOT_TOKEN from the environment by itself and, given a client
    too (build() always gives one: the same token, our base URL, our retries), warns on
    every start that it ignores the token it found. Nothing is wrong: drop that line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != BOLT_CLIENT_TOKEN_WARNING


def _configure_logging(
    level: str, *, log_format: LogFormat | None = None, secrets: Iterable[str] = ()
) -> None:
    """Every line to stderr as JSON or text (bot/observability/logs.py), without `secrets`;
    lines written for a delivery name its incident."""
    configure_logging(level=level, log_format=log_format or default_format(), secrets=secrets)
    track_incident_keys()
    # The ticker runs every second; its per-run lines would drown everything else.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("slack_bolt.AsyncApp").addFilter(_DropBoltClientTokenWarning())


def _policy(path: Path | None) -> Policy:
    try:
        return load_policy(path)
    except ConfigurationError as error:
        raise _fail(str(error)) from error


def _prepare_database(settings: Settings) -> None:
    """Migrate a SQLite file (one process owns it); refuse a Postgres schema that is behind."""
    try:
        if sync_url(settings.database_url).get_backend_name() == "sqlite":
            upgrade_database(settings.database_url)
            return
        pending = pending_migrations(settings.database_url)
    except ConfigurationError as error:
        raise _fail(str(error)) from error
    except SQLAlchemyError as error:
        raise _database_failure(settings.database_url, error) from error
    if pending:
        raise _fail(
            f"the database schema is behind ({len(pending)} migration(s) pending): "
            "run `warroom db upgrade` first"
        )


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 3000,
) -> None:
    """Serve Slack requests, /healthz and /readyz."""
    settings = _settings()
    policy = _policy(settings.config_path)  # before the logs: its secrets are kept out of them
    _configure_logging(
        settings.log_level,
        log_format=settings.log_format,
        secrets=configured_secrets(settings, policy),
    )
    for advice in misspelt_roles(policy):
        log.warning("policy: %s", advice)
    _prepare_database(settings)
    # Imported late: the web stack is not needed by other commands.
    import uvicorn

    from bot.app import create_app

    try:
        app = create_app(settings)  # checks every template: refuses to serve without them
    except ConfigurationError as error:
        raise _fail(str(error)) from error
    # log_config=None: uvicorn's access and error lines go through the root logger, so
    # through the same format and redaction as every other line.
    uvicorn.run(app, host=host, port=port, log_level=settings.log_level.lower(), log_config=None)


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration to WARROOM_DATABASE_URL."""
    settings = _settings()
    try:
        upgrade_database(settings.database_url)
    except ConfigurationError as error:
        raise _fail(str(error)) from error
    except SQLAlchemyError as error:
        raise _database_failure(settings.database_url, error) from error
    typer.echo(f"database at {sync_url(settings.database_url).render_as_string()} is up to date")


@cli.command("check-config")
def check_config(
    path: Annotated[
        Path | None, typer.Argument(help="Policy file (default: WARROOM_CONFIG)")
    ] = None,
) -> None:
    """Validate the policy and the templates; print the effective policy and Slack's state."""
    settings = _settings()
    target = path or settings.config_path
    policy = _policy(target)
    renderer = Renderer(settings.templates_dir)
    try:
        templates = renderer.check()
        # Rendered on a sample incident: an override that compiles but breaks on data.
        check_document_templates(renderer)
    except ConfigurationError as error:
        raise _fail(str(error)) from error
    source = str(target) if target else "built-in defaults"
    typer.echo(f"# effective policy ({source})")
    typer.echo(policy.as_yaml(), nl=False)
    if settings.announce_channel:
        typer.echo(
            f"# WARROOM_ANNOUNCE_CHANNEL={settings.announce_channel} overrides announce_channel"
        )
    overridden = (
        f", {len(templates.overridden)} of them from {settings.templates_dir}"
        if templates.overridden
        else ""
    )
    typer.echo(f"# templates: {len(templates.names)} compiled{overridden}")
    typer.echo(f"# {settings.slack_summary()}")
    unused = [
        f"{settings.templates_dir}/{name} is not a template of warroom's: it is never used"
        for name in templates.unused
    ]
    for advice in [*misspelt_roles(policy), *levels_without_contacts(policy), *unused]:
        typer.secho(f"warning: {advice}", err=True, fg=typer.colors.YELLOW)
    checks = policy.diagnostics.checks
    typer.echo(f"# diagnostics: {len(checks)} checks, {len(policy.diagnostics.runbooks)} runbooks")
    # A check whose secret is not in this environment would fail when someone runs it.
    environ = settings.secret_environment()
    missing = policy.diagnostics.missing_environment(environ)
    confluence = policy.postmortem.confluence
    if confluence is not None:
        typer.echo(f"# postmortems published to {confluence.base_url}, space {confluence.space}")
        missing += confluence_missing_environment(confluence, environ)
    if missing:
        raise _fail("\n".join(missing))


@cli.command()
def manifest(
    url: Annotated[
        str | None,
        typer.Option(help="Public HTTPS address of `warroom serve`, e.g. https://warroom.acme.io"),
    ] = None,
) -> None:
    """Print the Slack app manifest (paste it at api.slack.com/apps)."""
    if url is not None and not url.startswith("https://"):
        raise _fail(f"--url {url!r}: Slack only sends requests to https:// addresses")
    text = importlib.resources.files("bot").joinpath("manifest.yml").read_text(encoding="utf-8")
    if url:
        text = text.replace(f"https://{MANIFEST_HOST}", url.rstrip("/"))
    typer.echo(text, nl=False)


def _register_reports() -> None:
    """`warroom postmortem` and `warroom stats`: read the stored incidents."""
    from bot.postmortem.export_cli import postmortem_command
    from bot.postmortem.stats_cli import stats_command

    cli.command("postmortem")(postmortem_command)
    cli.command("stats")(stats_command)


def _register_maintenance() -> None:
    """`warroom db current`, `warroom db downgrade` and `warroom prune`."""
    from bot.storage.db_cli import (
        DOWNGRADE_SETTINGS,
        current_command,
        downgrade_command,
        prune_command,
    )

    db_cli.command("current")(current_command)
    db_cli.command("downgrade", context_settings=DOWNGRADE_SETTINGS)(downgrade_command)
    cli.command("prune")(prune_command)


_register_reports()
_register_maintenance()


def main() -> None:
    cli(prog_name="warroom")


if __name__ == "__main__":
    main()
