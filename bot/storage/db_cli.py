"""`warroom db current`, `warroom db downgrade` and `warroom prune`: the schema's revision,
taking it back down, and removing what is kept only for a while.

Like every command, a refusal is one line on stderr and a non-zero exit code, never a
traceback.
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta
from typing import Annotated

import typer
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from bot.clock import Clock, utc_now
from bot.config import Settings
from bot.errors import ConfigurationError
from bot.storage.database import Database
from bot.storage.retention import Pruned, prune
from bot.storage.revisions import (
    DowngradePlan,
    RevisionRefused,
    SchemaState,
    downgrade_database,
    plan_downgrade,
    schema_state,
)

PRUNE_USAGE = "usage: warroom prune --older-than DURATION [--dry-run], DURATION like 90d, 12h, 30m"
_AGE = re.compile(r"^\s*(\d{1,6})\s*([mhd])\s*$")
_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}
# What "now" is for `warroom prune` (tests set their own).
clock: Clock = utc_now
# `warroom db downgrade -1`: a relative step is an argument, not an unknown option.
DOWNGRADE_SETTINGS = {"ignore_unknown_options": True}


def _shown(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "WARROOM_DATABASE_URL"


def describe_state(shown: str, state: SchemaState) -> str:
    """One line on where the schema stands."""
    head = ", ".join(state.heads)
    if not state.exists:
        return f"database at {shown}: no such file, never migrated (the head is {head})"
    if state.never_migrated:
        return f"database at {shown}: never migrated, no revision (the head is {head})"
    current = ", ".join(state.current)
    if state.unknown:
        return (
            f"database at {shown}: revision {current}, which this version of warroom does "
            f"not know (its head is {head}): a newer version migrated it"
        )
    if state.at_head:
        return f"database at {shown}: revision {current}, the head (up to date)"
    return (
        f"database at {shown}: revision {current}, {state.pending()} migration(s) behind "
        f"the head {head} (run `warroom db upgrade`)"
    )


def current_command() -> None:
    """Print the database's schema revision and whether it is the head."""
    from bot.cli import _database_failure, _fail, _settings

    settings = _settings()
    try:
        state = schema_state(settings.database_url)
    except ConfigurationError as error:
        raise _fail(str(error)) from error
    except SQLAlchemyError as error:
        raise _database_failure(settings.database_url, error) from error
    typer.echo(describe_state(_shown(settings.database_url), state))


def downgrade_command(
    revision: Annotated[
        str,
        typer.Argument(
            metavar="REVISION",
            help="A revision (0012), a relative step (-1), or base (nothing left)",
            show_default=False,
        ),
    ],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation")] = False,
) -> None:
    """Undo migrations down to REVISION (-1, 0012, base); what they added is dropped."""
    from bot.cli import _database_failure, _fail, _settings

    settings = _settings()
    url = settings.database_url
    try:
        plan = plan_downgrade(url, revision)
    except (ConfigurationError, RevisionRefused) as error:
        raise _fail(str(error)) from error
    except SQLAlchemyError as error:
        raise _database_failure(url, error) from error
    shown = _shown(url)
    if not plan.undone:
        typer.echo(f"database at {shown} is at {plan.current} already: nothing to undo")
        return
    typer.echo(_describe_plan(shown, plan))
    if not yes and not _confirmed():
        typer.secho("nothing changed", err=True)
        raise typer.Exit(code=1)
    try:
        downgrade_database(url, plan)
    except SQLAlchemyError as error:
        raise _database_failure(url, error) from error
    typer.echo(
        f"database at {shown} is at {plan.target_name} now ({len(plan.undone)} migration(s) undone)"
    )


def _describe_plan(shown: str, plan: DowngradePlan) -> str:
    undone = "\n".join(f"  {migration}" for migration in plan.undone)
    return (
        f"database at {shown}: from {plan.current} down to {plan.target_name}, undoing "
        f"(what they added, and the data in it, is dropped; stop every warroom serve "
        f"using it first):\n{undone}"
    )


def _confirmed() -> bool:
    try:
        return typer.confirm("Downgrade?", default=False)
    except typer.Abort:  # no terminal to ask on (end of input, Ctrl-C)
        typer.echo()
        return False


def parse_age(text: str) -> timedelta:
    """`90d`, `12h`, `30m`; ValueError for anything else (zero included)."""
    match = _AGE.match(text)
    if match is None or int(match.group(1)) == 0:
        raise ValueError(text)
    return int(match.group(1)) * _UNITS[match.group(2)]


def prune_command(
    older_than: Annotated[
        str,
        typer.Option(
            "--older-than",
            metavar="DURATION",
            help="Remove what is older than this: 90d, 12h, 30m",
            show_default=False,
        ),
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be removed, remove nothing")
    ] = False,
) -> None:
    """Remove handled chat events and delivered outbox rows older than DURATION (safe
    while serving; pending and failed deliveries are never removed)."""
    from bot.cli import _database_failure, _fail, _prepare_database, _settings

    try:
        age = parse_age(older_than)
    except ValueError:
        raise _fail(f"--older-than {older_than.strip()[:20]!r}: {PRUNE_USAGE}") from None
    settings = _settings()
    _prepare_database(settings)
    cutoff = clock() - age
    try:
        pruned = _prune(settings, cutoff=cutoff, dry_run=dry_run)
    except SQLAlchemyError as error:
        raise _database_failure(settings.database_url, error) from error
    shown = older_than.strip()
    typer.echo(describe_pruned(pruned, older_than=shown, cutoff=cutoff, dry_run=dry_run))


def describe_pruned(pruned: Pruned, *, older_than: str, cutoff: datetime, dry_run: bool) -> str:
    verb = "would remove" if dry_run else "removed"
    before = cutoff.strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"{verb} {pruned.processed_events} handled chat event(s) and {pruned.deliveries} "
        f"delivered outbox row(s) older than {older_than} (before {before})"
    )


def _prune(settings: Settings, *, cutoff: datetime, dry_run: bool) -> Pruned:
    db = Database(settings.database_url, threads=1)
    try:
        return asyncio.run(prune(db, cutoff=cutoff, dry_run=dry_run))
    finally:
        db.dispose()
