"""An in-memory ChatPlatform for unit tests (and a model of what adapters must do)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.chat.port import ChatMessage, Message, OpenedChannel
from bot.errors import ChannelNameTaken, DeliveryError

_NOT_IN_NAMES = re.compile(r"[^a-z0-9]+")


@dataclass
class FakeChannel:
    id: str
    name: str
    private: bool
    members: set[str] = field(default_factory=set)
    messages: dict[str, Message] = field(default_factory=dict)
    pins: set[str] = field(default_factory=set)
    said: dict[str, tuple[str, str]] = field(default_factory=dict)  # people's messages


class FakeChat:
    """Records every effect; `failures` queues errors to raise from the next calls by name."""

    def __init__(self) -> None:
        self.channels: dict[str, FakeChannel] = {}
        self.private_replies: list[tuple[str, str, str]] = []
        self.failures: dict[str, list[DeliveryError]] = {}
        self.calls: list[str] = []
        self.groups: dict[str, list[str]] = {}
        self._ids = itertools.count(1)

    def fail_next(self, operation: str, *errors: DeliveryError) -> None:
        self.failures.setdefault(operation, []).extend(errors)

    def add_channel(self, channel_id: str, name: str) -> None:
        self.channels[channel_id] = FakeChannel(channel_id, name, private=False)

    def channel_named(self, name: str) -> FakeChannel | None:
        return next((c for c in self.channels.values() if c.name == name), None)

    def _enter(self, operation: str) -> None:
        self.calls.append(operation)
        queued = self.failures.get(operation)
        if queued:
            raise queued.pop(0)

    def _channel(self, channel_id: str) -> FakeChannel:
        if channel_id not in self.channels:
            raise DeliveryError("channel_not_found", retryable=False)
        return self.channels[channel_id]

    async def open_channel(self, *, name: str, private: bool) -> OpenedChannel:
        self._enter("open_channel")
        if self.channel_named(name) is not None:
            raise ChannelNameTaken("name_taken", retryable=False)
        channel = FakeChannel(f"C{next(self._ids):08d}", name, private)
        self.channels[channel.id] = channel
        return OpenedChannel(channel.id, channel.name)

    async def invite(self, *, channel_id: str, user_ids: Sequence[str]) -> None:
        self._enter("invite")
        self._channel(channel_id).members.update(user_ids)

    async def post(self, *, channel_id: str, message: Message) -> str:
        self._enter("post")
        ref = f"{next(self._ids)}.000100"
        self._channel(channel_id).messages[ref] = message
        return ref

    async def update(self, *, channel_id: str, message_ref: str, message: Message) -> None:
        self._enter("update")
        channel = self._channel(channel_id)
        if message_ref not in channel.messages:
            raise DeliveryError("message_not_found", retryable=False)
        channel.messages[message_ref] = message

    async def pin(self, *, channel_id: str, message_ref: str) -> None:
        self._enter("pin")
        self._channel(channel_id).pins.add(message_ref)

    async def find_marked(self, *, channel_id: str, marker: str) -> str | None:
        self._enter("find_marked")
        messages = self._channel(channel_id).messages
        return next((ref for ref, m in messages.items() if m.marker == marker), None)

    async def reply_privately(self, *, channel_id: str, user_id: str, text: str) -> None:
        self._enter("reply_privately")
        self.private_replies.append((channel_id, user_id, text))

    async def group_members(self, *, group_id: str) -> list[str]:
        self._enter("group_members")
        return list(self.groups.get(group_id, []))

    def post_as(self, user_id: str, channel_id: str, text: str) -> str:
        """A person's message, for capture tests; returns its reference."""
        ref = f"{next(self._ids)}.000200"
        self._channel(channel_id).said[ref] = (user_id, text)
        return ref

    async def read_message(self, *, channel_id: str, message_ref: str) -> ChatMessage | None:
        self._enter("read_message")
        said = self._channel(channel_id).said.get(message_ref)
        if said is None:
            return None
        return ChatMessage(
            channel_id=channel_id,
            ref=message_ref,
            author=said[0],
            text=said[1],
            permalink=await self.permalink(channel_id=channel_id, message_ref=message_ref),
        )

    async def permalink(self, *, channel_id: str, message_ref: str) -> str | None:
        return f"https://chat.example/{channel_id}/{message_ref}"

    def channel_name(self, *, template: str, number: int, title: str, severity: str) -> str:
        """Slack's rules in short: lowercase letters, digits and dashes."""
        slug = _NOT_IN_NAMES.sub("-", title.lower()).strip("-")
        name = template.format(number=number, slug=slug, severity=severity.lower())
        return _NOT_IN_NAMES.sub("-", name).strip("-")

    def alternative_channel_name(self, name: str, attempt: int) -> str:
        return f"{name}-{attempt + 1}"
