"""An in-memory ChatPlatform for unit tests (and a model of what adapters must do).

Besides refusals (`fail_next`), it models the two ways a call's outcome goes missing on a
real platform: the call takes effect but its answer is lost (`lose_answer`), and the call
is answered with an error at once but takes effect later (`land_late`, then `land()`),
as Slack does with a call it was slow to carry out.
"""

from __future__ import annotations

import contextlib
import itertools
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from bot.chat.port import (
    ChatMessage,
    Document,
    Message,
    OpenedChannel,
    OutcomeUnknown,
    OwnChannel,
)
from bot.clock import Clock
from bot.errors import ChannelNameTaken, DeliveryError

_NOT_IN_NAMES = re.compile(r"[^a-z0-9]+")
T = TypeVar("T")


@dataclass
class FakeChannel:
    id: str
    name: str
    private: bool
    members: set[str] = field(default_factory=set)
    messages: dict[str, Message] = field(default_factory=dict)  # oldest first
    pins: set[str] = field(default_factory=set)
    said: dict[str, tuple[str, str]] = field(default_factory=dict)  # people's messages
    opened_by_bot: bool = False
    created_at: datetime | None = None
    direct_with: str | None = None  # the person of a direct conversation with the bot


@dataclass
class SharedFile:
    """A file the bot shared; a deleted one stays listed, `deleted`."""

    ref: str
    channel_id: str
    filename: str
    title: str
    content: bytes
    comment: str  # our Markdown
    mime_type: str
    deleted: bool = False


class FakeChat:
    """Records every effect; `failures` queues errors to raise from the next calls by name."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.channels: dict[str, FakeChannel] = {}
        self.private_replies: list[tuple[str, str, str]] = []  # channel, user, Markdown
        self.failures: dict[str, list[DeliveryError]] = {}
        self.calls: list[str] = []
        self.groups: dict[str, list[str]] = {}
        self.deleted: list[tuple[str, str]] = []  # channel, message ref
        self.files: dict[str, SharedFile] = {}  # by ref, oldest first
        self.emails: dict[str, str] = {}  # profile email (lower case) -> user id
        self._late: list[Callable[[], object]] = []
        self._modes: dict[str, list[str]] = {}  # operation -> "lose" | "late", in order
        self._ids = itertools.count(1)
        self._clock = clock

    # what tests set up ------------------------------------------------------------------

    def fail_next(self, operation: str, *errors: DeliveryError) -> None:
        """The next calls of `operation` are refused with these errors: nothing happens."""
        self.failures.setdefault(operation, []).extend(errors)

    def lose_answer(self, operation: str, times: int = 1) -> None:
        """The next calls of `operation` take effect, then raise OutcomeUnknown."""
        self._modes.setdefault(operation, []).extend(["lose"] * times)

    def land_late(self, operation: str, times: int = 1) -> None:
        """The next calls of `operation` raise OutcomeUnknown at once and take effect when
        the test calls `land()`."""
        self._modes.setdefault(operation, []).extend(["late"] * times)

    def land(self) -> int:
        """Carry out the calls kept by `land_late`; returns how many there were. One the
        platform would now refuse (a name taken meanwhile) does nothing, as on Slack."""
        late, self._late = self._late, []
        for act in late:
            with contextlib.suppress(DeliveryError):
                act()
        return len(late)

    def add_channel(self, channel_id: str, name: str) -> None:
        self.channels[channel_id] = FakeChannel(channel_id, name, private=False)

    def channel_named(self, name: str) -> FakeChannel | None:
        return next((c for c in self.channels.values() if c.name == name), None)

    def opened(self) -> list[FakeChannel]:
        """Every channel the bot opened, in order."""
        return [c for c in self.channels.values() if c.opened_by_bot]

    def files_in(self, channel_id: str) -> list[SharedFile]:
        """The files shared in a channel and not deleted, oldest first."""
        return [f for f in self.files.values() if f.channel_id == channel_id and not f.deleted]

    def direct_with(self, user_id: str) -> FakeChannel | None:
        """The bot's direct conversation with a person, once one was opened."""
        return next((c for c in self.channels.values() if c.direct_with == user_id), None)

    # the port ---------------------------------------------------------------------------

    def _enter(self, operation: str) -> None:
        self.calls.append(operation)
        queued = self.failures.get(operation)
        if queued:
            raise queued.pop(0)

    def _carry(self, operation: str, act: Callable[[], T]) -> T:
        """One call: refused, carried out, or carried out with its outcome unknown."""
        self._enter(operation)
        modes = self._modes.get(operation)
        mode = modes.pop(0) if modes else None
        if mode == "late":
            self._late.append(act)
            raise OutcomeUnknown("timeout", detail=operation, timed_out=True)
        result = act()
        if mode == "lose":
            raise OutcomeUnknown("connection_lost", detail=operation)
        return result

    def _channel(self, channel_id: str) -> FakeChannel:
        if channel_id not in self.channels:
            raise DeliveryError("channel_not_found", retryable=False)
        return self.channels[channel_id]

    async def open_channel(
        self, *, name: str, private: bool, near: str | None = None
    ) -> OpenedChannel:
        def act() -> OpenedChannel:
            if self.channel_named(name) is not None:
                raise ChannelNameTaken("name_taken", retryable=False)
            channel = FakeChannel(
                f"C{next(self._ids):08d}",
                name,
                private,
                opened_by_bot=True,
                created_at=self._clock() if self._clock else None,
            )
            self.channels[channel.id] = channel
            return OpenedChannel(channel.id, channel.name)

        return self._carry("open_channel", act)

    async def own_channels(self, *, names: Collection[str]) -> dict[str, OwnChannel]:
        self._enter("own_channels")
        return {
            c.name: OwnChannel(c.id, c.name, c.created_at)
            for c in self.channels.values()
            if c.opened_by_bot and c.name in names
        }

    async def invite(self, *, channel_id: str, user_ids: Sequence[str]) -> None:
        self._carry("invite", lambda: self._channel(channel_id).members.update(user_ids))

    async def post(self, *, channel_id: str, message: Message) -> str:
        def act() -> str:
            ref = f"{next(self._ids)}.000100"
            self._channel(channel_id).messages[ref] = message
            return ref

        return self._carry("post", act)

    async def update(self, *, channel_id: str, message_ref: str, message: Message) -> None:
        def act() -> None:
            channel = self._channel(channel_id)
            if message_ref not in channel.messages:
                raise DeliveryError("message_not_found", retryable=False)
            channel.messages[message_ref] = message

        self._carry("update", act)

    async def pin(self, *, channel_id: str, message_ref: str) -> None:
        self._carry("pin", lambda: self._channel(channel_id).pins.add(message_ref))

    async def delete(self, *, channel_id: str, message_ref: str) -> None:
        def act() -> None:
            channel = self._channel(channel_id)
            if channel.messages.pop(message_ref, None) is not None:
                self.deleted.append((channel_id, message_ref))
            channel.pins.discard(message_ref)

        self._carry("delete", act)

    async def find_marked(
        self, *, channel_id: str, marker: str, thread_ref: str | None = None
    ) -> str | None:
        self._enter("find_marked")
        messages = self._channel(channel_id).messages
        return next(
            (
                ref
                for ref, m in messages.items()
                if m.marker == marker and m.thread_ref == thread_ref
            ),
            None,
        )

    async def all_marked(
        self, *, channel_id: str, marker: str, thread_ref: str | None = None
    ) -> list[str]:
        self._enter("all_marked")
        messages = self._channel(channel_id).messages
        return [
            ref for ref, m in messages.items() if m.marker == marker and m.thread_ref == thread_ref
        ]

    async def upload_file(self, *, channel_id: str, document: Document) -> str:
        def act() -> str:
            self._channel(channel_id)
            ref = f"F{next(self._ids):08d}"
            self.files[ref] = SharedFile(
                ref,
                channel_id,
                document.filename,
                document.title,
                document.content,
                document.comment,
                document.mime_type,
            )
            return ref

        return self._carry("upload_file", act)

    async def files_named(self, *, channel_id: str, filename: str) -> list[str]:
        self._enter("files_named")
        self._channel(channel_id)
        return [f.ref for f in self.files_in(channel_id) if f.filename == filename]

    async def delete_file(self, *, file_ref: str) -> None:
        def act() -> None:
            if file_ref in self.files:
                self.files[file_ref].deleted = True

        self._carry("delete_file", act)

    async def direct_channel(self, *, user_id: str) -> str:
        def act() -> str:
            channel_id = f"D{user_id}"
            if channel_id not in self.channels:
                self.channels[channel_id] = FakeChannel(
                    channel_id, user_id, private=True, members={user_id}, direct_with=user_id
                )
            return channel_id

        return self._carry("direct_channel", act)

    async def reply_privately(self, *, channel_id: str, user_id: str, message: Message) -> None:
        self._carry(
            "reply_privately",
            lambda: self.private_replies.append((channel_id, user_id, message.markdown)),
        )

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

    async def user_by_email(self, *, email: str) -> str | None:
        self._enter("user_by_email")
        return self.emails.get(email.strip().lower())

    def channel_name(self, *, template: str, number: int, title: str, severity: str) -> str:
        """Slack's rules in short: lowercase letters, digits and dashes."""
        slug = _NOT_IN_NAMES.sub("-", title.lower()).strip("-")
        name = template.format(number=number, slug=slug, severity=severity.lower())
        return _NOT_IN_NAMES.sub("-", name).strip("-")

    def alternative_channel_name(self, name: str, attempt: int) -> str:
        return f"{name}-{attempt + 1}"
