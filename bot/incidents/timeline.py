"""Timeline entries: what the card shows and the postmortem reads, in domain words."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import SQLModel, col

from bot.storage.models import TimelineEntry, TimelineKind
from bot.text.durations import format_elapsed
from bot.text.markdown import Trusted, escape_markdown, user_ref

_INSERT_ENTRY = SQLModel.metadata.tables["timeline_entry"].insert()


@dataclass(frozen=True)
class TimelineLine:
    at: datetime
    markdown: Trusted


def record(
    session: Session,
    *,
    incident_id: int,
    kind: TimelineKind,
    at: datetime,
    actor: str | None,
    text: str = "",
    data: dict[str, Any] | None = None,
    source: str | None = None,
) -> None:
    """Add an entry within the caller's transaction (a plain insert: nothing reads it back)."""
    session.connection().execute(
        _INSERT_ENTRY,
        {
            "incident_id": incident_id,
            "kind": kind,
            "at": at,
            "actor": actor,
            "text": text,
            "data": data or {},
            "source": source,
        },
    )


def entries_of(session: Session, incident_id: int) -> list[TimelineEntry]:
    rows = session.scalars(
        select(TimelineEntry)
        .where(col(TimelineEntry.incident_id) == incident_id)
        .order_by(col(TimelineEntry.at), col(TimelineEntry.id))
    )
    return list(rows)


def describe(entry: TimelineEntry) -> Trusted:
    """One entry as a Markdown line: who did what. User text is escaped here."""
    who = user_ref(entry.actor) if entry.actor else "warroom"
    text = escape_markdown(entry.text)
    data = entry.data
    match entry.kind:
        case TimelineKind.DECLARED:
            line = f"Incident declared as {escape_markdown(str(data.get('severity', '')))} by {who}"
        case TimelineKind.STATUS_CHANGED:
            line = f"Status {data.get('old', '?')} → {data.get('new', '?')} by {who}"
        case TimelineKind.SEVERITY_CHANGED:
            line = f"Severity {data.get('old', '?')} → {data.get('new', '?')} by {who}"
        case TimelineKind.MESSAGE:
            link = data.get("permalink")
            quoted = f"{who}: “{text}”" if text else f"a message from {who}"
            line = f"💬 {quoted}" + (f" ([message]({link}))" if link else "")
            return Trusted(line)
        case TimelineKind.ESCALATED:
            level = escape_markdown(f"{data.get('level', '?')} {data.get('name', '')}".strip())
            line = f"Escalated to {level} by {who}"
        case TimelineKind.ROLE_ASSIGNED:
            role = escape_markdown(str(data.get("role", "?")))
            line = f"{user_ref(str(data.get('user', '?')))} assigned {role} by {who}"
        case TimelineKind.ACKNOWLEDGED if "after_seconds" in data:
            after = format_elapsed(timedelta(seconds=int(data["after_seconds"])))
            line = f"Acknowledged by {who} after {after}"
        case _:
            label = entry.kind.value.replace("_", " ").capitalize()
            line = f"{label} by {who}"
    return Trusted(f"{line}: {text}" if text else line)


def lines(entries: Sequence[TimelineEntry]) -> list[TimelineLine]:
    ordered = sorted(entries, key=lambda entry: (entry.at, entry.id or 0))
    return [TimelineLine(at=entry.at, markdown=describe(entry)) for entry in ordered]
