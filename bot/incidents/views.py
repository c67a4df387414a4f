"""Read-only views for people: the open incidents, one incident's roles and timeline.

Private incidents exist only for their people: to anyone else a private incident reads
exactly like a number that was never used.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from bot.clock import Clock
from bot.incidents.access import IncidentRef, find_incident, not_found
from bot.incidents.members import is_member, roles_of, visible_to
from bot.incidents.status import Status, incident_key
from bot.incidents.timeline import entries_of, lines
from bot.policy.schema import Policy
from bot.storage.database import Database
from bot.storage.models import Incident
from bot.text.durations import format_elapsed
from bot.text.markdown import Trusted, channel_ref, user_ref
from bot.text.templates import Renderer

OPEN = (Status.INVESTIGATING, Status.MITIGATING)


@dataclass(frozen=True)
class ListedIncident:
    key: str
    private: bool
    severity: str
    title: str
    status: str
    age: str
    channel: Trusted | None


def visible_incident(session: Session, ref: IncidentRef, viewer: str) -> Incident:
    """The incident `ref` names, if `viewer` may see it; IncidentNotFound otherwise."""
    incident = find_incident(session, ref)
    if incident.private and not is_member(session, incident_id=incident.id or 0, user_id=viewer):
        raise not_found(ref)
    return incident


class IncidentViews:
    def __init__(self, *, db: Database, policy: Policy, renderer: Renderer, clock: Clock) -> None:
        self._db = db
        self._policy = policy
        self._renderer = renderer
        self._clock = clock

    async def open_incidents(self, *, viewer: str) -> list[Incident]:
        """Open incidents, newest first; private ones only for the people in them."""

        def query(session: Session) -> list[Incident]:
            rows = session.scalars(
                select(Incident)
                .where(col(Incident.status).in_(OPEN))
                .where(visible_to(viewer))
                .order_by(col(Incident.number).desc())
            )
            return list(rows)

        return await self._db.transaction(query, urgent=True)

    async def open_list(self, *, viewer: str) -> str:
        now = self._clock()
        listed = [
            ListedIncident(
                key=incident_key(incident.number),
                private=incident.private,
                severity=incident.severity,
                title=incident.title,
                status=incident.status.label,
                age=format_elapsed(now - incident.started_at),
                channel=channel_ref(incident.channel_id) if incident.channel_id else None,
            )
            for incident in await self.open_incidents(viewer=viewer)
        ]
        return self._renderer.render("incident_list.md.j2", incidents=listed)

    async def roles(self, ref: IncidentRef, *, viewer: str) -> str:
        def query(session: Session) -> tuple[Incident, dict[str, str]]:
            incident = visible_incident(session, ref, viewer)
            held = {held.role: held.user_id for held in roles_of(session, incident.id or 0)}
            return incident, held

        incident, held = await self._db.transaction(query, urgent=True)
        roles = [
            (role, user_ref(held[role]) if role in held else None)
            for role in sorted({*self._policy.roles, *held})
        ]
        return self._renderer.render(
            "incident_roles.md.j2", key=incident_key(incident.number), roles=roles
        )

    async def timeline(self, ref: IncidentRef, *, viewer: str) -> str:
        """Every entry of one incident, oldest first (the card shows only the latest)."""

        def query(session: Session) -> tuple[Incident, list[object]]:
            incident = visible_incident(session, ref, viewer)
            return incident, list(lines(entries_of(session, incident.id or 0)))

        incident, entries = await self._db.transaction(query, urgent=True)
        return self._renderer.render(
            "incident_timeline.md.j2", key=incident_key(incident.number), lines=entries
        )
