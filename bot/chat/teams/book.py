"""The conversations and people warroom knows in Teams, stored (several processes share
them): every activity that reaches the bot records where it came from, so the bot can
answer there, open a thread beside it, or mention its author later.

The core knows a Teams conversation only as `teams:<row id>`: short, and marked as Teams's
own, so that the chat router (bot.chat.routing) sends its effects to Teams.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from bot.chat.platforms import TEAMS_PREFIX, teams_channel, teams_row
from bot.clock import Clock
from bot.storage.database import Database
from bot.storage.models import TeamsConversation, TeamsPerson


@dataclass(frozen=True)
class Place:
    """A conversation as the Bot Connector addresses it."""

    local_id: str  # teams:<n>
    conversation_id: str
    service_url: str
    kind: str
    tenant_id: str | None
    channel: str | None  # the Teams channel it is (or is a thread) in
    root_activity: str | None = None


def _place(row: TeamsConversation) -> Place:
    return Place(
        local_id=teams_channel(row.id or 0),
        conversation_id=row.conversation_id,
        service_url=row.service_url,
        kind=row.kind,
        tenant_id=row.tenant_id,
        channel=row.channel,
        root_activity=row.root_activity,
    )


def _kind(conversation: dict[str, Any]) -> str:
    if conversation.get("conversationType") == "personal":
        return "personal"
    if conversation.get("conversationType") == "groupChat":
        return "group"
    return "thread" if ";messageid=" in str(conversation.get("id", "")) else "channel"


class ConversationBook:
    def __init__(self, *, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def remember(self, activity: dict[str, Any]) -> Place:
        """Where an activity came from (recorded or refreshed), and who sent it."""
        conversation = activity.get("conversation") or {}
        channel_data = activity.get("channelData") or {}
        channel = (channel_data.get("channel") or {}).get("id")
        team = (channel_data.get("team") or {}).get("id")
        tenant = conversation.get("tenantId") or (channel_data.get("tenant") or {}).get("id")
        sender = activity.get("from") or {}
        now = self._clock()

        def record(session: Session) -> Place:
            conversation_id = str(conversation.get("id", ""))
            row = session.scalar(
                select(TeamsConversation).where(
                    col(TeamsConversation.conversation_id) == conversation_id
                )
            )
            if row is None:
                row = TeamsConversation(
                    conversation_id=conversation_id,
                    service_url=str(activity.get("serviceUrl", "")),
                    kind=_kind(conversation),
                    tenant_id=tenant,
                    team_id=team,
                    channel=channel or _channel_of(conversation_id),
                    seen_at=now,
                )
                session.add(row)
            else:
                row.service_url = str(activity.get("serviceUrl", row.service_url))
                row.seen_at = now
            aad = sender.get("aadObjectId")
            if aad:
                person = session.get(TeamsPerson, aad)
                if person is None:
                    session.add(
                        TeamsPerson(
                            aad_id=aad,
                            teams_id=str(sender.get("id", "")),
                            name=str(sender.get("name") or "")[:200],
                            seen_at=now,
                        )
                    )
                else:
                    person.teams_id = str(sender.get("id", person.teams_id))
                    person.name = str(sender.get("name") or person.name)[:200]
                    person.seen_at = now
            session.flush()
            return _place(row)

        return await self._db.transaction(record, urgent=True)

    async def opened(self, *, beside: Place, conversation_id: str, root_activity: str) -> Place:
        """A thread (or chat) the bot started."""
        now = self._clock()

        def record(session: Session) -> Place:
            row = session.scalar(
                select(TeamsConversation).where(
                    col(TeamsConversation.conversation_id) == conversation_id
                )
            )
            if row is None:
                row = TeamsConversation(
                    conversation_id=conversation_id,
                    service_url=beside.service_url,
                    kind="thread" if ";messageid=" in conversation_id else "personal",
                    tenant_id=beside.tenant_id,
                    channel=beside.channel,
                    root_activity=root_activity,
                    seen_at=now,
                )
                session.add(row)
                session.flush()
            return _place(row)

        return await self._db.transaction(record)

    async def place(self, local_id: str) -> Place | None:
        row_id = teams_row(local_id)
        if row_id is None:
            return None
        row = await self._db.transaction(lambda session: session.get(TeamsConversation, row_id))
        return _place(row) if row is not None else None

    async def channel_place(self, channel: str) -> Place | None:
        """A Teams channel by its id ("19:…"), as last seen: where to open threads."""

        def find(session: Session) -> TeamsConversation | None:
            return session.scalars(
                select(TeamsConversation)
                .where(col(TeamsConversation.channel) == channel)
                .order_by(col(TeamsConversation.seen_at).desc())
            ).first()

        row = await self._db.transaction(find)
        if row is None:
            return None
        # Posting to the channel itself (not to one of its threads) starts a new post.
        return replace(_place(row), conversation_id=channel, kind="channel")

    async def channel_or_nearby(self, channel: str) -> Place | None:
        """A Teams channel by id, as last seen; one never heard from is addressed through
        the Bot Connector (and tenant) of the conversation last heard from."""
        seen = await self.channel_place(channel)
        if seen is not None:
            return seen
        latest = await self.latest_place()
        if latest is None:
            return None
        return Place(
            local_id=channel,
            conversation_id=channel,
            service_url=latest.service_url,
            kind="channel",
            tenant_id=latest.tenant_id,
            channel=channel,
        )

    async def bot_thread_in(self, channel: str) -> Place | None:
        """The first thread the bot started in a channel (its root is the bot's)."""

        def find(session: Session) -> TeamsConversation | None:
            return session.scalars(
                select(TeamsConversation)
                .where(
                    col(TeamsConversation.channel) == channel,
                    col(TeamsConversation.kind) == "thread",
                    col(TeamsConversation.root_activity).is_not(None),
                    col(TeamsConversation.root_activity) != "",
                )
                .order_by(col(TeamsConversation.id))
            ).first()

        row = await self._db.transaction(find)
        return _place(row) if row is not None else None

    async def latest_place(self) -> Place | None:
        """The conversation last heard from: its Bot Connector address and tenant are
        where a chat with someone who wrote to the bot is opened."""

        def latest(session: Session) -> TeamsConversation | None:
            return session.scalars(
                select(TeamsConversation).order_by(col(TeamsConversation.seen_at).desc())
            ).first()

        row = await self._db.transaction(latest)
        return _place(row) if row is not None else None

    async def person(self, aad_id: str) -> TeamsPerson | None:
        return await self._db.transaction(lambda session: session.get(TeamsPerson, aad_id))

    async def names(self, ids: list[str]) -> dict[str, str]:
        if not ids:
            return {}

        def read(session: Session) -> dict[str, str]:
            rows = session.scalars(select(TeamsPerson).where(col(TeamsPerson.aad_id).in_(ids)))
            return {row.aad_id: row.name for row in rows if row.name}

        return await self._db.transaction(read)


def _channel_of(conversation_id: str) -> str | None:
    """A channel conversation's id is the channel's; a thread's starts with it."""
    if conversation_id.startswith("19:"):
        return conversation_id.split(";", 1)[0]
    return None


__all__ = ["TEAMS_PREFIX", "ConversationBook", "Place"]
