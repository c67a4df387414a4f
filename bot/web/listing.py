"""The lists of incidents: open ones (the wall screen) and resolved ones, filtered by
severity, status and text given as query parameters, each row as the card words it.

Filters are read by hand from the query string so that a bad one is answered with a page
saying what is accepted (a 400), never a framework's JSON.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from bot.errors import UnknownSeverity
from bot.incidents.cards import card_view
from bot.incidents.status import Status, incident_key
from bot.policy.schema import Policy
from bot.postmortem.document_inline import reference_text
from bot.storage.models import Incident, IncidentRole
from bot.text.durations import format_elapsed
from bot.text.templates import format_utc
from bot.web.viewers import Viewer, visible

OPEN_STATUSES = (Status.INVESTIGATING, Status.MITIGATING)
ENDED_STATUSES = (Status.RESOLVED, Status.CLOSED)
MAX_TEXT = 200
# A wall screen never holds more; the resolved list says when there are more.
MAX_ROWS = 200
_KEY = re.compile(r"^(?:inc-?)?(\d{1,10})$", re.IGNORECASE)


class BadFilter(ValueError):
    """A filter that cannot be applied: the message says what is accepted."""


@dataclass(frozen=True)
class Filters:
    severity: str | None = None  # the level's name
    status: Status | None = None
    text: str = ""

    @property
    def active(self) -> bool:
        return bool(self.severity or self.status or self.text)


def read_filters(
    query: Mapping[str, str], *, policy: Policy, statuses: Sequence[Status]
) -> Filters:
    """The filters of a query string; BadFilter naming what is wrong. Empty values are no
    filter (what the form sends for "any")."""
    severity = query.get("severity", "").strip()
    status = query.get("status", "").strip().lower()
    text = " ".join(query.get("text", "").split())
    if len(text) > MAX_TEXT:
        raise BadFilter(f"the text to look for is {len(text)} characters long: at most {MAX_TEXT}")
    level = None
    if severity:
        try:
            level = policy.severity(severity).name
        except UnknownSeverity as error:
            shown = severity if len(severity) <= 20 else severity[:19] + "…"
            accepted = ", ".join(policy.severity_names())
            raise BadFilter(f"there is no severity {shown!r}: use one of {accepted}") from error
    chosen = None
    if status:
        chosen = next((s for s in statuses if s.value == status), None)
        if chosen is None:
            accepted = ", ".join(s.value for s in statuses)
            shown = status if len(status) <= 20 else status[:19] + "…"
            raise BadFilter(f"there is no status {shown!r} here: use one of {accepted}")
    return Filters(severity=level, status=chosen, text=text)


@dataclass(frozen=True)
class IncidentRow:
    key: str
    title: str
    severity: str
    status: str
    private: bool
    started: str  # "2026-11-22 14:08 UTC"
    age: str  # "1 h 5 min"
    commander: str | None  # "@U123", as the postmortem names people
    next_update: str  # "2026-11-22 14:38 UTC", or "" when none is scheduled
    overdue: str  # "overdue by 4 min", or ""
    ended: str  # for a resolved incident: when


@dataclass(frozen=True)
class Listing:
    rows: tuple[IncidentRow, ...]
    more: bool  # more matched than are shown


def list_incidents(
    session: Session,
    *,
    viewer: Viewer,
    statuses: Sequence[Status],
    filters: Filters,
    policy: Policy,
    now: datetime,
) -> Listing:
    """The incidents `viewer` may see in `statuses`, newest first, filtered."""
    query = (
        select(Incident)
        .where(col(Incident.status).in_([filters.status] if filters.status else statuses))
        .where(visible(viewer))
    )
    if filters.severity:
        query = query.where(col(Incident.severity) == filters.severity)
    if filters.text:
        wanted = func.lower(col(Incident.title)).contains(filters.text.lower(), autoescape=True)
        number = _KEY.match(filters.text)
        if number is not None:
            wanted = wanted | (col(Incident.number) == int(number[1]))
        query = query.where(wanted)
    found = list(session.scalars(query.order_by(col(Incident.number).desc()).limit(MAX_ROWS + 1)))
    shown = found[:MAX_ROWS]
    commanders = _commanders(session, [incident.id or 0 for incident in shown])
    rows = tuple(_row(i, commanders.get(i.id or 0), policy=policy, now=now) for i in shown)
    return Listing(rows=rows, more=len(found) > MAX_ROWS)


def _commanders(session: Session, incident_ids: list[int]) -> dict[int, str]:
    if not incident_ids:
        return {}
    rows = session.execute(
        select(col(IncidentRole.incident_id), col(IncidentRole.user_id)).where(
            col(IncidentRole.incident_id).in_(incident_ids),
            col(IncidentRole.role) == "commander",
        )
    )
    return {incident_id: user_id for incident_id, user_id in rows}


def _row(
    incident: Incident, commander: str | None, *, policy: Policy, now: datetime
) -> IncidentRow:
    # The card's own view of the incident: the same status words, Next Update and overdue.
    view = card_view(incident, (), policy=policy, now=now)
    ended_at = incident.resolved_at if not incident.status.is_open else None
    return IncidentRow(
        key=incident_key(incident.number),
        title=incident.title,
        severity=incident.severity,
        status=view.status,
        private=incident.private,
        started=format_utc(incident.started_at),
        age=format_elapsed(now - incident.started_at),
        commander=reference_text("user", commander) if commander else None,
        next_update=format_utc(view.next_update_at) if view.next_update_at else "",
        overdue=view.overdue,
        ended=format_utc(ended_at) if ended_at else "",
    )
