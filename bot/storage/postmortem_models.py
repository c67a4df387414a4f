"""The postmortem's tables: the human sections of the RCA document, and its action items."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Date, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.storage.models import utc_column

# What a form's long text field holds at most (Slack: 3,000 characters).
SECTION_LENGTH = 3000


class Postmortem(SQLModel, table=True):
    """One per incident, once someone submits the postmortem form: the sections people
    write, how many versions of the document were exported, and where it was published."""

    __tablename__ = "postmortem"
    __table_args__ = (UniqueConstraint("incident_id", name="uq_postmortem_incident"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id")
    root_cause: str = Field(default="", max_length=SECTION_LENGTH)
    impact: str = Field(default="", max_length=SECTION_LENGTH)
    resolution: str = Field(default="", max_length=SECTION_LENGTH)
    went_well: str = Field(default="", max_length=SECTION_LENGTH)
    could_improve: str = Field(default="", max_length=SECTION_LENGTH)
    written_by: str = Field(max_length=64)
    written_at: datetime = Field(sa_column=utc_column(nullable=False))
    # Versions of the document uploaded to the channel (the next is exports + 1).
    exports: int = 0
    completed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    completed_by: str | None = Field(default=None, max_length=64)
    # The Confluence page, once created: updated in place afterwards.
    confluence_page_id: str | None = Field(default=None, max_length=64)
    confluence_url: str | None = Field(default=None, max_length=500)


class ActionItem(SQLModel, table=True):
    """A follow-up action of an incident: numbered 1, 2… within it."""

    __tablename__ = "action_item"
    __table_args__ = (
        UniqueConstraint("incident_id", "number", name="uq_action_item_number"),
        Index("ix_action_item_reminder", "next_reminder_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id")
    number: int
    text: str = Field(max_length=500)
    owner: str | None = Field(default=None, max_length=64)
    due: date | None = Field(default=None, sa_column=Column(Date(), nullable=True))
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
    done_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    done_by: str | None = Field(default=None, max_length=64)
    # When its owner is next reminded that it is past due (None: not due, done, or no owner).
    next_reminder_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
