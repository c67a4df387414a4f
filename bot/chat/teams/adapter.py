"""The ChatPlatform for Microsoft Teams, over the Bot Connector.

An incident lives in a thread of the Teams channel it was declared from (or the policy's
`teams.incidents_channel` when declared from a chat), or of a channel of its own
(bot.chat.teams.spaces): its root post says which incident it is; the card and every
later message are replies in it, edited in place with a PUT. Files (the postmortem) go
to the channel's files through Graph, and a post links to them.

What Teams cannot do the way Slack does is said here, not worked around in the core:
there are no pins (the card is the thread's first reply), nobody needs inviting (the
channel's members see its threads), and a bot cannot list a conversation's messages,
so a post whose answer was lost cannot be looked for (`find_marked` finds nothing).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Sequence

from bot.chat.port import (
    ChatMessage,
    Document,
    Message,
    OpenedChannel,
    OwnChannel,
)
from bot.chat.teams.book import ConversationBook, Place
from bot.chat.teams.cards import message_activity
from bot.chat.teams.connector import BotConnector
from bot.chat.teams.graph import GraphChannels
from bot.chat.teams.graph_files import GraphFiles
from bot.chat.teams.graph_users import GraphUsers
from bot.chat.teams.spaces import IncidentSpaces
from bot.errors import DeliveryError
from bot.policy.teams import TeamsPolicy
from bot.text.markdown import REFERENCE

log = logging.getLogger(__name__)

_NOT_IN_NAMES = re.compile(r"[^a-z0-9]+")


class TeamsChat:
    def __init__(
        self,
        *,
        connector: BotConnector,
        book: ConversationBook,
        policy: TeamsPolicy,
        channels: GraphChannels | None = None,
        files: GraphFiles | None = None,
        users: GraphUsers | None = None,
    ) -> None:
        self._connector = connector
        self._book = book
        self._policy = policy
        self._files = files
        self._users = users
        self._spaces = IncidentSpaces(
            connector=connector, book=book, policy=policy, channels=channels
        )

    async def _place(self, channel_id: str) -> Place:
        place = (
            await self._book.channel_or_nearby(channel_id)
            if channel_id.startswith("19:")
            else await self._book.place(channel_id)
        )
        if place is None:
            raise DeliveryError("teams_conversation_unknown", retryable=False, detail=channel_id)
        return place

    async def _names(self, markdown: str) -> dict[str, str]:
        ids = [m["id"] for m in REFERENCE.finditer(markdown) if m["kind"] == "user"]
        return await self._book.names(ids)

    async def _activity(self, message: Message) -> dict[str, object]:
        return message_activity(message, names=await self._names(message.markdown))

    async def open_channel(
        self, *, name: str, private: bool, near: str | None = None
    ) -> OpenedChannel:
        """A new thread in the channel the incident was declared from, or in a channel of
        its own (bot.chat.teams.spaces)."""
        return await self._spaces.open(name=name, private=private, near=near)

    async def invite(self, *, channel_id: str, user_ids: Sequence[str]) -> None:
        return  # the channel's members see the thread

    async def post(self, *, channel_id: str, message: Message) -> str:
        place = await self._place(channel_id)
        return await self._connector.send(
            service_url=place.service_url,
            conversation_id=place.conversation_id,
            activity=await self._activity(message),
        )

    async def update(self, *, channel_id: str, message_ref: str, message: Message) -> None:
        place = await self._place(channel_id)
        await self._connector.update(
            service_url=place.service_url,
            conversation_id=place.conversation_id,
            activity_id=message_ref,
            activity=await self._activity(message),
        )

    async def pin(self, *, channel_id: str, message_ref: str) -> None:
        return  # no pins for bots: the card is the thread's first reply

    async def delete(self, *, channel_id: str, message_ref: str) -> None:
        place = await self._place(channel_id)
        await self._connector.delete(
            service_url=place.service_url,
            conversation_id=place.conversation_id,
            activity_id=message_ref,
        )

    async def find_marked(
        self, *, channel_id: str, marker: str, thread_ref: str | None = None
    ) -> str | None:
        return None  # the Bot Connector lists no messages

    async def all_marked(
        self, *, channel_id: str, marker: str, thread_ref: str | None = None
    ) -> list[str]:
        return []

    async def own_channels(self, *, names: Collection[str]) -> dict[str, OwnChannel]:
        return await self._spaces.own(names=names)

    async def upload_file(self, *, channel_id: str, document: Document) -> str:
        """The file put in the channel's files (SharePoint, through Graph), then a post
        in the incident's conversation with its comment and a link to it."""
        team = self._policy.team_id
        if team is None or self._files is None:
            raise DeliveryError(
                "teams_files_need_graph",
                retryable=False,
                detail=f"{document.filename}: set teams.team_id in the policy (and grant "
                "Files.ReadWrite.All) to share files in Teams",
            )
        place = await self._place(channel_id)
        if place.channel is None:
            raise DeliveryError("teams_files_need_channel", retryable=False, detail=channel_id)
        folder = await self._files.folder(team_id=team, channel_id=place.channel)
        uploaded = await self._files.upload(
            folder=folder,
            filename=document.filename,
            content=document.content,
            media_type=document.mime_type,
        )
        link = f"📄 [{document.filename}]({uploaded.web_url})"
        markdown = f"{document.comment}\n\n{link}" if document.comment else link
        await self.post(
            channel_id=channel_id,
            message=Message(markdown=markdown, fallback=f"{document.title}: {uploaded.web_url}"),
        )
        return uploaded.ref

    async def files_named(self, *, channel_id: str, filename: str) -> list[str]:
        # An upload replaces the file of the same name: doing it again cannot make a
        # second copy, so there is nothing to look for first.
        return []

    async def delete_file(self, *, file_ref: str) -> None:
        if self._files is not None:
            await self._files.delete(ref=file_ref)

    async def direct_channel(self, *, user_id: str) -> str:
        person = await self._book.person(user_id)
        latest = await self._book.latest_place()
        if person is None or latest is None:
            raise DeliveryError("teams_person_unknown", retryable=False, detail=user_id)
        home = Place(
            local_id="",
            conversation_id="",
            service_url=latest.service_url,
            kind="personal",
            tenant_id=latest.tenant_id,
            channel=None,
        )
        conversation = await self._connector.create_personal(
            service_url=latest.service_url, user_id=person.teams_id, tenant_id=latest.tenant_id
        )
        opened = await self._book.opened(
            beside=home, conversation_id=conversation, root_activity=""
        )
        return opened.local_id

    async def reply_privately(self, *, channel_id: str, user_id: str, message: Message) -> None:
        """Teams shows no message to one person in a channel: their personal chat."""
        direct = await self.direct_channel(user_id=user_id)
        await self.post(channel_id=direct, message=message)

    async def group_members(self, *, group_id: str) -> list[str]:
        return []

    async def read_message(self, *, channel_id: str, message_ref: str) -> ChatMessage | None:
        return None

    async def permalink(self, *, channel_id: str, message_ref: str) -> str | None:
        return None

    async def user_by_email(self, *, email: str) -> str | None:
        """The person's Entra object id, through Graph (with `teams.team_id` set)."""
        if self._users is None:
            return None
        try:
            return await self._users.id_of(email)
        except DeliveryError as error:  # a viewer unknown beats a page that fails
            log.warning("could not look up a Teams user by email: %s", error)
            return None

    def channel_name(self, *, template: str, number: int, title: str, severity: str) -> str:
        slug = _NOT_IN_NAMES.sub("-", title.lower()).strip("-")[:40] or "incident"
        return template.format(number=number, slug=slug, severity=severity.lower())

    def alternative_channel_name(self, name: str, attempt: int) -> str:
        return f"{name}-{attempt + 1}"
