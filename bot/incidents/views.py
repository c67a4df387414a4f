"""Read-only views for people: the open incidents, one incident's full timeline."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from bot.errors import UserError
from bot.incidents.access import IncidentRef, find_incident
from bot.incidents.members import is_member, roles_of, visible_to
from bot.incidents.status import Status, incident_key
from bot.incidents.timeline import Mention, entries_of, lines
from bot.storage.database import Database
from bot.storage.models import Incident
from bot.text.durations import format_elapsed
from bot.text.markdown import escape_markdown
from bot.text.templates import format_utc

OPEN = (Status.INVESTIGATING, Status.MITIGATING)


async def open_incidents(db: Database, *, viewer: str) -> list[Incident]:
    """Open incidents, newest first; private ones only for the people in them."""

    def query(session: Session) -> list[Incident]:
        rows = session.scalars(
            select(Incident)
            .where(col(Incident.status).in_(OPEN))
            .where(visible_to(viewer))
            .order_by(col(Incident.number).desc())
        )
        return list(rows)

    return await db.transaction(query, urgent=True)


def list_markdown(incidents: Sequence[Incident], *, now: datetime, channel_mention: Mention) -> str:
    if not incidents:
        return "No open incidents. :tada:"
    rows = [
        f"**{len(incidents)} open incident{'s' if len(incidents) != 1 else ''}**, newest first:"
    ]
    for incident in incidents:
        where = channel_mention(incident.channel_id) if incident.channel_id else "channel pending"
        lock = " 🔒" if incident.private else ""
        rows.append(
            f"• **{incident_key(incident.number)}**{lock} [{incident.severity}] "
            f"{escape_markdown(incident.title)} · {incident.status.label} · "
            f"{format_elapsed(now - incident.started_at)} old · {where}"
        )
    return "\n".join(rows)


async def roles_markdown(
    db: Database, ref: IncidentRef, *, viewer: str, mention: Mention, policy_roles: Sequence[str]
) -> str:
    def query(session: Session) -> tuple[Incident, dict[str, str]]:
        incident = _visible(session, ref, viewer)
        return incident, {held.role: held.user_id for held in roles_of(session, incident.id or 0)}

    incident, held = await db.transaction(query, urgent=True)
    rows = [f"**Roles of {incident_key(incident.number)}**:"]
    for role in sorted({*policy_roles, *held}):
        rows.append(f"• {role}: {mention(held[role]) if role in held else 'nobody yet'}")
    return "\n".join(rows)


def _visible(session: Session, ref: IncidentRef, viewer: str) -> Incident:
    incident = find_incident(session, ref)
    if incident.private and not is_member(session, incident_id=incident.id or 0, user_id=viewer):
        raise UserError(f"{incident_key(incident.number)} is private")
    return incident


async def timeline_markdown(
    db: Database, ref: IncidentRef, *, viewer: str, mention: Mention
) -> str:
    """Every entry of one incident, oldest first (the card shows only the latest)."""

    def query(session: Session) -> tuple[Incident, list[str]]:
        incident = find_incident(session, ref)
        if incident.private and not is_member(
            session, incident_id=incident.id or 0, user_id=viewer
        ):
            raise UserError(f"{incident_key(incident.number)} is private")
        entries = lines(entries_of(session, incident.id or 0), mention=mention)
        return incident, [f"- {format_utc(line.at)} - {line.markdown}" for line in entries]

    incident, rows = await db.transaction(query, urgent=True)
    header = f"**Timeline of {incident_key(incident.number)}** ({len(rows)} entries)"
    return "\n".join([header, *rows])
