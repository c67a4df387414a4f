"""Where a Teams incident lives: a thread of an existing channel (the default), or with
`teams.incident_space: channel` a standard channel of its own in the policy's team, made
through Microsoft Graph.

Either way the incident's conversation is a thread the bot started (its root names the
incident; the card and every later message are replies in it), so that everything after
the opening is the same in both modes.

A channel create is not idempotent and its answer can be lost after Graph made the
channel: the next attempt meets the name as taken, and the core asks `own` which of its
names are the bot's. A channel found under such a name is adopted, and its thread is
started then if the lost attempt did not get that far. Graph does not say who made a
channel: one a person made under the incident's own name after the declaration would be
adopted too (the core refuses channels older than the incident).
"""

from __future__ import annotations

from collections.abc import Collection

from bot.chat.port import OpenedChannel, OwnChannel
from bot.chat.teams.book import ConversationBook, Place
from bot.chat.teams.cards import text_activity
from bot.chat.teams.connector import BotConnector
from bot.chat.teams.graph import GraphChannels
from bot.errors import DeliveryError
from bot.policy.teams import TeamsPolicy


class IncidentSpaces:
    def __init__(
        self,
        *,
        connector: BotConnector,
        book: ConversationBook,
        policy: TeamsPolicy,
        channels: GraphChannels | None,
    ) -> None:
        self._connector = connector
        self._book = book
        self._policy = policy
        self._channels = channels

    async def open(self, *, name: str, private: bool, near: str | None) -> OpenedChannel:
        if private:
            # A thread is seen by everyone in its channel, and a private channel made by
            # an app needs an owner named at its creation: no private incident in Teams.
            raise DeliveryError("teams_private_incident", retryable=False, detail=name)
        if self._policy.incident_space == "channel":
            return await self._open_channel(name, near)
        home = await self._thread_home(near)
        return await self._start_thread(home, name)

    async def own(self, *, names: Collection[str]) -> dict[str, OwnChannel]:
        """The incident channels of the team under `names` (channel mode; threads have no
        names to be taken), each with its thread, started now if it has none yet."""
        if self._policy.incident_space != "channel":
            return {}
        team, channels = self._graph()
        wanted = {name.casefold(): name for name in names}
        found: dict[str, OwnChannel] = {}
        for channel in await channels.list_channels(team_id=team):
            name = wanted.get(channel.name.casefold())
            if name is None:
                continue
            thread = await self._book.bot_thread_in(channel.id)
            if thread is None:
                home = await self._channel_home(channel.id, near=None)
                thread = await self._start_thread_place(home, name)
            found[name] = OwnChannel(id=thread.local_id, name=name, created_at=channel.created_at)
        return found

    async def _open_channel(self, name: str, near: str | None) -> OpenedChannel:
        team, channels = self._graph()
        channel_id = await channels.create_channel(
            team_id=team, name=name, private=False, description=f"{name}: incident channel"
        )
        home = await self._channel_home(channel_id, near=near)
        return await self._start_thread(home, name)

    async def _channel_home(self, channel_id: str, *, near: str | None) -> Place:
        """The new channel, addressed through the Bot Connector of a conversation of the
        same team (the channel has sent the bot nothing yet)."""
        beside = await self._book.place(near) if near else None
        beside = beside or await self._book.latest_place()
        if beside is None:
            raise DeliveryError(
                "teams_no_conversation",
                detail="warroom has not been reached from Teams yet: no Bot Connector to use",
            )
        return Place(
            local_id=channel_id,
            conversation_id=channel_id,
            service_url=beside.service_url,
            kind="channel",
            tenant_id=beside.tenant_id,
            channel=channel_id,
        )

    async def _thread_home(self, near: str | None) -> Place:
        place = await self._book.place(near) if near else None
        if place is not None and place.channel is not None:
            return place
        if self._policy.incidents_channel is not None:
            home = await self._book.channel_or_nearby(self._policy.incidents_channel)
            if home is not None:
                return home
        raise DeliveryError(
            "teams_no_incidents_channel",
            retryable=False,
            detail="declared outside a channel, and teams.incidents_channel is not set "
            "(or warroom has not been reached from it yet)",
        )

    async def _start_thread(self, home: Place, name: str) -> OpenedChannel:
        opened = await self._start_thread_place(home, name)
        return OpenedChannel(id=opened.local_id, name=name)

    async def _start_thread_place(self, home: Place, name: str) -> Place:
        assert home.channel is not None  # every home above is a place in a channel
        started = await self._connector.create_conversation(
            service_url=home.service_url,
            channel_id=home.channel,
            tenant_id=home.tenant_id,
            activity=text_activity(f"🔴 **{name}**: the incident's thread"),
        )
        return await self._book.opened(
            beside=home,
            conversation_id=started.conversation_id,
            root_activity=started.activity_id,
        )

    def _graph(self) -> tuple[str, GraphChannels]:
        team = self._policy.team_id
        if team is None or self._channels is None:
            # Refused at start (bot.chat.teams.wiring): only a misbuilt adapter gets here.
            raise DeliveryError("teams_graph_not_configured", retryable=False)
        return team, self._channels
