"""Who is in an incident and who holds which role."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, exists, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlmodel import SQLModel, col

from bot.storage.models import Incident, IncidentMember, IncidentRole

_MEMBERS = SQLModel.metadata.tables["incident_member"]
# Built once per dialect: this insert runs on the declaration's hot path.
_ADD_MEMBER = {
    "postgresql": pg_insert(_MEMBERS).on_conflict_do_nothing(),
    "sqlite": sqlite_insert(_MEMBERS).on_conflict_do_nothing(),
}


def add_member(session: Session, *, incident_id: int, user_id: str, now: datetime) -> None:
    """Record someone as in the incident (idempotent)."""
    connection = session.connection()
    connection.execute(
        _ADD_MEMBER[connection.dialect.name],
        {"incident_id": incident_id, "user_id": user_id, "added_at": now},
    )


def visible_to(viewer: str) -> ColumnElement[bool]:
    """Public incidents, and private ones the viewer is in."""
    member = exists().where(
        col(IncidentMember.incident_id) == col(Incident.id),
        col(IncidentMember.user_id) == viewer,
    )
    return col(Incident.private).is_(False) | member


def is_member(session: Session, *, incident_id: int, user_id: str) -> bool:
    found = session.scalar(
        select(col(IncidentMember.id)).where(
            col(IncidentMember.incident_id) == incident_id,
            col(IncidentMember.user_id) == user_id,
        )
    )
    return found is not None


def roles_of(session: Session, incident_id: int) -> list[IncidentRole]:
    rows = session.scalars(
        select(IncidentRole)
        .where(col(IncidentRole.incident_id) == incident_id)
        .order_by(col(IncidentRole.role))
    )
    return list(rows)


def holder_of(session: Session, *, incident_id: int, role: str) -> IncidentRole | None:
    return session.scalar(
        select(IncidentRole)
        .where(col(IncidentRole.incident_id) == incident_id, col(IncidentRole.role) == role)
        .with_for_update()
    )
