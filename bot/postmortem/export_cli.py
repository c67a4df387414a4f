"""`warroom postmortem INC-N`: an incident's postmortem document, printed or written to a
file, from what is stored. The command line is the operator: any incident, private ones
too. Sections read as not yet written until someone submits `/incident postmortem`."""

from __future__ import annotations

import asyncio
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from sqlmodel import col

from bot.config import Settings
from bot.incidents.access import MAX_INCIDENT_NUMBER
from bot.incidents.status import incident_key
from bot.policy.schema import Policy
from bot.postmortem.document import (
    HTML_TEMPLATE,
    MARKDOWN_TEMPLATE,
    DocumentData,
    HtmlRenderer,
    describe_template_failure,
    load_document,
    render_html,
    render_markdown,
)
from bot.storage.database import Database
from bot.storage.models import Incident
from bot.text.templates import Renderer

_INCIDENT = re.compile(r"(?:INC-)?(\d{1,12})", re.IGNORECASE)


class DocumentFormat(StrEnum):
    MARKDOWN = "md"
    HTML = "html"


def postmortem_command(
    incident: Annotated[
        str, typer.Argument(metavar="INC-N", help="The incident, as INC-7 or 7", show_default=False)
    ],
    output_format: Annotated[
        DocumentFormat,
        typer.Option("--format", help="Markdown (as shared in the channel) or a printable page"),
    ] = DocumentFormat.MARKDOWN,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", metavar="FILE", help="Write it to FILE instead of printing"),
    ] = None,
) -> None:
    """Print an incident's postmortem document, as stored (a draft until written)."""
    # bot.cli imports this module to register the command: its helpers are taken when the
    # command runs, once both modules are loaded.
    from bot.cli import _database_failure, _fail, _policy, _prepare_database, _settings

    matched = _INCIDENT.fullmatch(incident.strip())
    if matched is None:
        raise _fail(f"{incident!r} is not an incident: write it as INC-7 or 7")
    number = int(matched[1])
    settings = _settings()
    policy = _policy(settings.config_path)
    _prepare_database(settings)
    try:
        data = _read_document(settings, policy, number)
    except SQLAlchemyError as error:
        raise _database_failure(settings.database_url, error) from error
    if data is None:
        raise _fail(f"there is no {incident_key(number)}")
    renderer = Renderer(settings.templates_dir)
    template = MARKDOWN_TEMPLATE if output_format is DocumentFormat.MARKDOWN else HTML_TEMPLATE
    try:
        if output_format is DocumentFormat.MARKDOWN:
            text = render_markdown(data, renderer)
        else:
            text = render_html(data, HtmlRenderer(renderer))
    # A broken override fails in any way a template can; it is named, not a traceback.
    except Exception as error:
        raise _fail(describe_template_failure(template, error)) from error
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as error:
        raise _fail(f"cannot write {output}: {error.strerror or error}") from error
    typer.echo(f"{data.key}'s postmortem ({output_format.value}) written to {output}")


def _read_document(settings: Settings, policy: Policy, number: int) -> DocumentData | None:
    if number > MAX_INCIDENT_NUMBER:
        return None  # never handed out, and more than the column holds

    def read(session: Session) -> DocumentData | None:
        found = session.scalar(select(Incident).where(col(Incident.number) == number))
        return None if found is None else load_document(session, found, policy=policy)

    db = Database(settings.database_url, threads=1)
    try:
        return asyncio.run(db.transaction(read, urgent=True))
    finally:
        db.dispose()
