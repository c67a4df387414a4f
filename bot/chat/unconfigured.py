"""The chat platform of an install with none configured yet (alerts only, or Slack's
credentials still to be set): every effect waits in the outbox until one is."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from bot.chat.port import ChatMessage, Document, Message, OpenedChannel, OwnChannel
from bot.errors import DeliveryError

# Retried slowly: nothing can land until the process restarts with a platform configured.
RETRY_AFTER_SECONDS = 300.0


def _unavailable(operation: str) -> DeliveryError:
    return DeliveryError("chat_not_configured", retry_after=RETRY_AFTER_SECONDS, detail=operation)


class UnconfiguredChat:
    async def open_channel(
        self, *, name: str, private: bool, near: str | None = None
    ) -> OpenedChannel:
        raise _unavailable("open a channel")

    async def invite(self, *, channel_id: str, user_ids: Sequence[str]) -> None:
        raise _unavailable("invite")

    async def post(self, *, channel_id: str, message: Message) -> str:
        raise _unavailable("post")

    async def update(self, *, channel_id: str, message_ref: str, message: Message) -> None:
        raise _unavailable("update")

    async def pin(self, *, channel_id: str, message_ref: str) -> None:
        raise _unavailable("pin")

    async def delete(self, *, channel_id: str, message_ref: str) -> None:
        raise _unavailable("delete")

    async def find_marked(
        self, *, channel_id: str, marker: str, thread_ref: str | None = None
    ) -> str | None:
        raise _unavailable("look for a message")

    async def all_marked(
        self, *, channel_id: str, marker: str, thread_ref: str | None = None
    ) -> list[str]:
        raise _unavailable("look for messages")

    async def own_channels(self, *, names: Collection[str]) -> dict[str, OwnChannel]:
        raise _unavailable("list channels")

    async def upload_file(self, *, channel_id: str, document: Document) -> str:
        raise _unavailable("share a file")

    async def files_named(self, *, channel_id: str, filename: str) -> list[str]:
        raise _unavailable("look for files")

    async def delete_file(self, *, file_ref: str) -> None:
        raise _unavailable("delete a file")

    async def direct_channel(self, *, user_id: str) -> str:
        raise _unavailable("open a direct conversation")

    async def reply_privately(self, *, channel_id: str, user_id: str, message: Message) -> None:
        raise _unavailable("reply")

    async def group_members(self, *, group_id: str) -> list[str]:
        raise _unavailable("read a group")

    async def read_message(self, *, channel_id: str, message_ref: str) -> ChatMessage | None:
        return None

    async def permalink(self, *, channel_id: str, message_ref: str) -> str | None:
        return None

    async def user_by_email(self, *, email: str) -> str | None:
        return None  # nobody to look up: a viewer matched to no one sees public incidents

    # Nothing is ever opened without a platform: the name only has to be a name.
    def channel_name(self, *, template: str, number: int, title: str, severity: str) -> str:
        return f"inc-{number}"

    def alternative_channel_name(self, name: str, attempt: int) -> str:
        return f"{name}-{attempt + 1}"
