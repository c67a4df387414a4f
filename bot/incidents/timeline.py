"""Timeline entries: what the card shows and the postmortem reads, in domain words."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import SQLModel, col

from bot.storage.models import TimelineEntry, TimelineKind
from bot.text.durations import format_elapsed
from bot.text.markdown import Trusted, actor_ref, escape_markdown, link, user_ref
from bot.text.templates import format_utc

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


def record_entries(session: Session, entries: Sequence[Mapping[str, Any]]) -> None:
    """Several entries in one statement (an alert burst), each with every column `record`
    writes."""
    if entries:
        session.connection().execute(_INSERT_ENTRY, list(entries))


def entries_of(session: Session, incident_id: int) -> list[TimelineEntry]:
    rows = session.scalars(
        select(TimelineEntry)
        .where(col(TimelineEntry.incident_id) == incident_id)
        .order_by(col(TimelineEntry.at), col(TimelineEntry.id))
    )
    return list(rows)


def describe(entry: TimelineEntry) -> Trusted:
    """One entry as a Markdown line: who did what. User text is escaped here."""
    who = actor_ref(entry.actor) if entry.actor else "warroom"
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
            # Only an http(s) permalink becomes a link (`link` refuses anything else).
            to_message = link("message", str(data["permalink"])) if data.get("permalink") else None
            quoted = f"{who}: “{text}”" if text else f"a message from {who}"
            line = f"💬 {quoted}" + (f" ({to_message})" if to_message else "")
            return Trusted(line)
        case TimelineKind.ESCALATED:
            level = escape_markdown(f"{data.get('level', '?')} {data.get('name', '')}".strip())
            line = f"Escalated to {level} by {who}"
        case TimelineKind.ROLE_ASSIGNED:
            role = escape_markdown(str(data.get("role", "?")))
            line = f"{user_ref(str(data.get('user', '?')))} assigned {role} by {who}"
        case TimelineKind.ALERT:
            return _alert_line(entry)
        case TimelineKind.SILENCED:
            until = format_utc(datetime.fromisoformat(str(data.get("until"))))
            line = f"🔕 Alerts silenced until {until} by {who}"
        case TimelineKind.DIAGNOSTICS:
            return _diagnostics_line(entry, who)
        case TimelineKind.POSTMORTEM:
            line = _postmortem_line(data, who)
        case TimelineKind.ACTION_ITEM:
            line = _action_item_line(data, who)
        case TimelineKind.ACKNOWLEDGED if "after_seconds" in data:
            after = format_elapsed(timedelta(seconds=int(data["after_seconds"])))
            line = f"Acknowledged by {who} after {after}"
        case _:
            label = entry.kind.value.replace("_", " ").capitalize()
            line = f"{label} by {who}"
    return Trusted(f"{line}: {text}" if text else line)


_ALERT_WORDS = {"firing": "🔔 Firing", "firing_again": "🔁 Firing again", "resolved": "✅ Resolved"}


def _alert_line(entry: TimelineEntry) -> Trusted:
    """🔔 Firing: **HighErrorRate** (instance=10.0.0.6:8080): 5xx rate above 5% (graph)"""
    data = entry.data
    what = _ALERT_WORDS.get(str(data.get("alert")), "Alert")
    line = f"{what}: **{escape_markdown(str(data.get('alertname', 'alert')))}**"
    labels = data.get("labels")
    if isinstance(labels, dict) and labels:
        shown = ", ".join(f"{name}={value}" for name, value in labels.items())
        line += f" ({escape_markdown(shown)})"
    if entry.text:
        line += f": {escape_markdown(entry.text)}"
    graph = link("graph", str(data["link"])) if data.get("link") else None
    return Trusted(f"{line} ({graph})" if graph else line)


_OUTCOME_ICONS = {"passed": "✅", "warned": "⚠️", "failed": "❌", "skipped": "⏭️"}


def _diagnostics_line(entry: TimelineEntry, who: str) -> Trusted:
    """🩺 Diagnostics (runbook Application unresponsive) by @alex: 1 passed, 1 failed ·
    ❌ app-port: connection refused"""
    data = entry.data
    label = escape_markdown(str(data.get("label", "diagnostics")))
    tally = data.get("tally")
    counts: dict[str, Any] = tally if isinstance(tally, dict) else {}
    words = ", ".join(
        f"{counts[name]} {name}"
        for name in ("passed", "warned", "failed", "skipped", "interrupted")
        if counts.get(name)
    )
    line = f"🩺 Diagnostics ({label}) by {who}: {words or 'nothing run'}"
    if data.get("state") == "interrupted":
        line += " · interrupted"
    problems = [
        check
        for check in data.get("checks") or []
        if isinstance(check, dict) and check.get("outcome") in ("failed", "warned")
    ]
    for check in problems[:3]:
        icon = _OUTCOME_ICONS.get(str(check.get("outcome")), "")
        summary = escape_markdown(str(check.get("summary", "")))
        line += f" · {icon} {escape_markdown(str(check.get('name', '?')))}: {summary}"
    return Trusted(line)


_POSTMORTEM_WORDS = {
    "written": "📝 Postmortem written",
    "edited": "📝 Postmortem edited",
    "exported": "📄 Postmortem exported",
    "published": "📄 Postmortem published",
    "completed": "🏁 Postmortem completed",
}


def _postmortem_line(data: Mapping[str, Any], who: str) -> str:
    """📄 Postmortem exported (version 2, INC-7-postmortem-v2.md) by @alex"""
    line = _POSTMORTEM_WORDS.get(str(data.get("op")), "📝 Postmortem")
    details = []
    if data.get("version"):
        details.append(f"version {int(data['version'])}")
    if data.get("file"):
        details.append(escape_markdown(str(data["file"])))
    shown = f" ({', '.join(details)})" if details else ""
    return f"{line}{shown} by {who}"


def _action_item_line(data: Mapping[str, Any], who: str) -> str:
    """☑️ Action item 2 added by @alex (owner @sam, due 2026-12-09)"""
    number = data.get("number", "?")
    if data.get("op") == "done":
        return f"✅ Action item {number} done by {who}"
    details = []
    if data.get("owner"):
        details.append(f"owner {user_ref(str(data['owner']))}")
    if data.get("due"):
        details.append(f"due {escape_markdown(str(data['due']))}")
    return f"☑️ Action item {number} added by {who}" + (
        f" ({', '.join(details)})" if details else ""
    )


def lines(entries: Sequence[TimelineEntry]) -> list[TimelineLine]:
    ordered = sorted(entries, key=lambda entry: (entry.at, entry.id or 0))
    return [TimelineLine(at=entry.at, markdown=describe(entry)) for entry in ordered]
