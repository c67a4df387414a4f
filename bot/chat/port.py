"""What the core asks of a chat platform, in the domain's words."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.errors import ChannelNameTaken, DeliveryError, OutcomeUnknown

__all__ = ["ChannelNameTaken", "DeliveryError", "OutcomeUnknown"]


@dataclass(frozen=True)
class Button:
    """An action offered under a message; `action` is a namespaced id like incident.acknowledge."""

    action: str
    label: str
    value: str
    style: str | None = None  # "primary" | "danger" | None
    confirm: str | None = None  # asks "are you sure?" with this text before acting


@dataclass(frozen=True)
class Message:
    """Platform-neutral content: Markdown (user text already escaped) plus a plain fallback.

    `marker` tags the message so a retried post can find the copy an earlier attempt may
    already have delivered, instead of posting a duplicate.
    """

    markdown: str
    fallback: str
    marker: str | None = None
    buttons: tuple[Button, ...] = ()
    # Posted as a reply in the thread of this message (its reference), not in the channel.
    thread_ref: str | None = None


@dataclass(frozen=True)
class Document:
    """A file to share in a channel (the postmortem), introduced by `comment` (our
    Markdown). `filename` names it for people and identifies it: an upload whose answer
    was lost is found again by it (`files_named`) instead of being shared twice."""

    filename: str
    title: str
    content: bytes
    comment: str = ""
    mime_type: str = "text/markdown"


@dataclass(frozen=True)
class ChatMessage:
    """A message in a channel, as the platform has it."""

    channel_id: str
    ref: str  # the platform's own id for the message
    author: str | None
    text: str  # our Markdown's references in place of the platform's mentions
    posted_at: datetime | None = None
    permalink: str | None = None

    @property
    def source(self) -> str:
        """What identifies the message across flags: one timeline entry per message."""
        return f"{self.channel_id}:{self.ref}"


@dataclass(frozen=True)
class OpenedChannel:
    id: str
    name: str


@dataclass(frozen=True)
class OwnChannel:
    """A channel this bot opened itself, as the platform lists it now."""

    id: str
    name: str
    created_at: datetime | None  # None: the platform does not say


class ChatPlatform(Protocol):
    async def open_channel(
        self, *, name: str, private: bool, near: str | None = None
    ) -> OpenedChannel:
        """Create a channel the bot is in; ChannelNameTaken if the name is used. `near`
        is where the incident was declared: a platform whose incidents live beside their
        origin (Teams: a thread in that channel) opens it there."""
        ...

    async def invite(self, *, channel_id: str, user_ids: Sequence[str]) -> None:
        """Add people to a channel; people already in it are not an error."""
        ...

    async def post(self, *, channel_id: str, message: Message) -> str:
        """Post a message; returns its reference (what update/pin take)."""
        ...

    async def update(self, *, channel_id: str, message_ref: str, message: Message) -> None: ...

    async def pin(self, *, channel_id: str, message_ref: str) -> None:
        """Pin a message; one already pinned is not an error."""
        ...

    async def delete(self, *, channel_id: str, message_ref: str) -> None:
        """Remove one of the bot's own messages; one already gone is not an error."""
        ...

    async def find_marked(
        self, *, channel_id: str, marker: str, thread_ref: str | None = None
    ) -> str | None:
        """The reference of a recent message tagged `marker` in the channel (or, with
        `thread_ref`, among the replies in that message's thread), if any (of several,
        the oldest)."""
        ...

    async def all_marked(
        self, *, channel_id: str, marker: str, thread_ref: str | None = None
    ) -> list[str]:
        """Every recent message tagged `marker` in the channel (or the thread), oldest first."""
        ...

    async def own_channels(self, *, names: Collection[str]) -> dict[str, OwnChannel]:
        """Of `names`, the channels that exist and that this bot opened itself (it
        created them and is in them), by name: what an open_channel whose answer was
        lost may have created."""
        ...

    async def upload_file(self, *, channel_id: str, document: Document) -> str:
        """Share a file in the channel, with its comment; returns the file's reference."""
        ...

    async def files_named(self, *, channel_id: str, filename: str) -> list[str]:
        """The references of recent files this bot shared in the channel under
        `filename`, oldest first: what an upload whose answer was lost may have shared."""
        ...

    async def delete_file(self, *, file_ref: str) -> None:
        """Remove a file this bot shared; one already gone is not an error."""
        ...

    async def direct_channel(self, *, user_id: str) -> str:
        """The conversation between this bot and one person (opened if need be), to
        `post` reminders meant for them alone."""
        ...

    async def reply_privately(self, *, channel_id: str, user_id: str, message: Message) -> None:
        """A message only `user_id` sees, in `channel_id` (Slack: ephemeral), or in a
        direct message when that channel cannot show it to them."""
        ...

    async def group_members(self, *, group_id: str) -> list[str]:
        """The people in a user group (an on-call team)."""
        ...

    async def read_message(self, *, channel_id: str, message_ref: str) -> ChatMessage | None:
        """A message as the platform has it now, with its permalink; None if unreadable."""
        ...

    async def permalink(self, *, channel_id: str, message_ref: str) -> str | None:
        """A link to a message, if the platform gives one."""
        ...

    async def user_by_email(self, *, email: str) -> str | None:
        """The id of the person whose chat profile has this email (None: nobody, or the
        platform cannot say): who a viewer signed in elsewhere is in the incidents."""
        return None

    def channel_name(self, *, template: str, number: int, title: str, severity: str) -> str:
        """The name of an incident's channel from the policy's template (placeholders
        `number`, `slug`, `severity`), made acceptable to this platform."""
        ...

    def alternative_channel_name(self, name: str, attempt: int) -> str:
        """Another name to try when `name` is taken; `attempt` counts from 1."""
        ...
