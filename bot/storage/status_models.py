"""The public status page's tables: which components an incident names, which incidents
are public, and the updates posted for the public.

The status page reads only these tables and a few columns of `incident` (status,
severity, times, private): what it can show is what was written here for it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.storage.models import utc_column

# Of an update posted with --public (the length the timeline keeps).
PUBLIC_TEXT_LENGTH = 4000
PUBLIC_TITLE_LENGTH = 200


class IncidentComponent(SQLModel, table=True):
    """A status page component an incident affects (its name as the policy spells it)."""

    __tablename__ = "incident_component"
    __table_args__ = (UniqueConstraint("incident_id", "name", name="uq_incident_component"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id")
    name: str = Field(max_length=80)


class PublicIncident(SQLModel, table=True):
    """An incident shown on the status page, since its first public update. Its `id`
    is how the page names it: incident numbers (which count private incidents too) are
    never shown."""

    __tablename__ = "public_incident"
    __table_args__ = (UniqueConstraint("incident_id", name="uq_public_incident"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id")
    # What the page calls it; None: its components' names ("Checkout incident").
    title: str | None = Field(default=None, max_length=PUBLIC_TITLE_LENGTH)
    published_at: datetime = Field(sa_column=utc_column(nullable=False))


class PublicUpdate(SQLModel, table=True):
    """An update for the public: posted with --public, or the resolution and reopening of
    a public incident. `status` is the incident's status when it was posted."""

    __tablename__ = "public_update"
    __table_args__ = (Index("ix_public_update_incident_at", "incident_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id")
    at: datetime = Field(sa_column=utc_column(nullable=False))
    status: str = Field(max_length=20)
    text: str = Field(max_length=PUBLIC_TEXT_LENGTH)
