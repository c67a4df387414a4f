"""`warroom stats`: the response statistics of every incident, as a table or as JSON."""

from __future__ import annotations

import asyncio
import json
from enum import StrEnum
from typing import Annotated

import typer
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.clock import utc_now
from bot.config import Settings
from bot.policy.schema import Policy
from bot.postmortem.stats import Stats, compute_stats, format_table
from bot.storage.database import Database


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


def stats_command(
    days: Annotated[
        int, typer.Option(min=1, max=3650, help="How many days back from now to count")
    ] = 30,
    output_format: Annotated[
        OutputFormat,
        typer.Option("--format", help="A table for people, or JSON for scripts"),
    ] = OutputFormat.TABLE,
) -> None:
    """Print response statistics: incidents per severity, MTTA, MTTR, follow-up owed."""
    # bot.cli imports this module to register the command: its helpers are taken when the
    # command runs, once both modules are loaded.
    from bot.cli import _database_failure, _policy, _prepare_database, _settings

    settings = _settings()
    policy = _policy(settings.config_path)
    _prepare_database(settings)
    try:
        stats = _read_stats(settings, policy, days)
    except SQLAlchemyError as error:
        raise _database_failure(settings.database_url, error) from error
    if output_format is OutputFormat.JSON:
        typer.echo(json.dumps(stats.to_json(), indent=2))
    else:
        typer.echo(format_table(stats), nl=False)


def _read_stats(settings: Settings, policy: Policy, days: int) -> Stats:
    now = utc_now()

    def read(session: Session) -> Stats:
        return compute_stats(session, policy=policy, now=now, days=days)

    db = Database(settings.database_url, threads=1)
    try:
        return asyncio.run(db.transaction(read, urgent=True))
    finally:
        db.dispose()
