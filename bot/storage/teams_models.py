"""What warroom remembers of Microsoft Teams: the conversations it was reached from or
opened (with the Bot Connector address to answer them at), and people's names for
mentions. The core knows a Teams conversation only by its short id, `teams:<id>`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.storage.models import utc_column


class TeamsConversation(SQLModel, table=True):
    __tablename__ = "teams_conversation"
    __table_args__ = (UniqueConstraint("conversation_id", name="uq_teams_conversation"),)

    id: int | None = Field(default=None, primary_key=True)
    # The Bot Connector's id: a channel ("19:…@thread.tacv2"), a thread in one
    # ("…;messageid=…"), a personal or group chat.
    conversation_id: str = Field(max_length=400)
    service_url: str = Field(max_length=500)
    kind: str = Field(max_length=20)  # channel | thread | personal | group
    tenant_id: str | None = Field(default=None, max_length=64)
    team_id: str | None = Field(default=None, max_length=400)
    # The Teams channel a thread or channel conversation is in (where new threads go).
    channel: str | None = Field(default=None, max_length=400)
    # A thread's root post (the incident's first message), for an update or a delete.
    root_activity: str | None = Field(default=None, max_length=100)
    seen_at: datetime = Field(sa_column=utc_column(nullable=False))


class TeamsPerson(SQLModel, table=True):
    """Someone who wrote to the bot: their Microsoft Entra object id (warroom's user id
    for them), their Bot Framework id and name, to mention them."""

    __tablename__ = "teams_person"

    aad_id: str = Field(primary_key=True, max_length=64)
    teams_id: str = Field(max_length=200)
    name: str = Field(default="", max_length=200)
    seen_at: datetime = Field(sa_column=utc_column(nullable=False))
