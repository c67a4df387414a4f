"""One ChatPlatform over several: each call goes to the platform its channel belongs to
(bot.chat.platforms), so Slack and Teams run in one process, each incident on its own.

What names no channel goes to the default platform (the first configured: Slack, else
Teams), except what only one platform can mean: a person's direct conversation follows
the form of their id (Teams users are Microsoft Entra object ids, GUIDs).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

from bot.chat.platforms import Platform, platform_of
from bot.chat.port import (
    ChatMessage,
    ChatPlatform,
    Document,
    Message,
    OpenedChannel,
    OwnChannel,
)

_ENTRA_ID = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)


def platform_of_user(user_id: str) -> Platform:
    return "teams" if _ENTRA_ID.match(user_id) else "slack"


class RoutingChat:
    def __init__(self, platforms: dict[Platform, ChatPlatform], *, default: Platform) -> None:
        if default not in platforms:
            raise ValueError(f"the default platform {default} is not among {sorted(platforms)}")
        self._platforms = platforms
        self._default = platforms[default]

    def _for(self, channel_id: str | None) -> ChatPlatform:
        platform = platform_of(channel_id)
        return self._platforms.get(platform, self._default) if platform else self._default

    async def open_channel(
        self, *, name: str, private: bool, near: str | None = None
    ) -> OpenedChannel:
        return await self._for(near).open_channel(name=name, private=private, near=near)

    async def invite(self, *, channel_id: str, user_ids: Sequence[str]) -> None:
        await self._for(channel_id).invite(channel_id=channel_id, user_ids=user_ids)

    async def post(self, *, channel_id: str, message: Message) -> str:
        return await self._for(channel_id).post(channel_id=channel_id, message=message)

    async def update(self, *, channel_id: str, message_ref: str, message: Message) -> None:
        await self._for(channel_id).update(
            channel_id=channel_id, message_ref=message_ref, message=message
        )

    async def pin(self, *, channel_id: str, message_ref: str) -> None:
        await self._for(channel_id).pin(channel_id=channel_id, message_ref=message_ref)

    async def delete(self, *, channel_id: str, message_ref: str) -> None:
        await self._for(channel_id).delete(channel_id=channel_id, message_ref=message_ref)

    async def find_marked(
        self, *, channel_id: str, marker: str, thread_ref: str | None = None
    ) -> str | None:
        return await self._for(channel_id).find_marked(
            channel_id=channel_id, marker=marker, thread_ref=thread_ref
        )

    async def all_marked(
        self, *, channel_id: str, marker: str, thread_ref: str | None = None
    ) -> list[str]:
        return await self._for(channel_id).all_marked(
            channel_id=channel_id, marker=marker, thread_ref=thread_ref
        )

    async def own_channels(self, *, names: Collection[str]) -> dict[str, OwnChannel]:
        found: dict[str, OwnChannel] = {}
        for platform in self._platforms.values():
            found.update(await platform.own_channels(names=names))
        return found

    async def upload_file(self, *, channel_id: str, document: Document) -> str:
        return await self._for(channel_id).upload_file(channel_id=channel_id, document=document)

    async def files_named(self, *, channel_id: str, filename: str) -> list[str]:
        return await self._for(channel_id).files_named(channel_id=channel_id, filename=filename)

    async def delete_file(self, *, file_ref: str) -> None:
        await self._for(file_ref).delete_file(file_ref=file_ref)

    async def direct_channel(self, *, user_id: str) -> str:
        platform = self._platforms.get(platform_of_user(user_id), self._default)
        return await platform.direct_channel(user_id=user_id)

    async def reply_privately(self, *, channel_id: str, user_id: str, message: Message) -> None:
        await self._for(channel_id).reply_privately(
            channel_id=channel_id, user_id=user_id, message=message
        )

    async def group_members(self, *, group_id: str) -> list[str]:
        return await self._default.group_members(group_id=group_id)

    async def read_message(self, *, channel_id: str, message_ref: str) -> ChatMessage | None:
        return await self._for(channel_id).read_message(
            channel_id=channel_id, message_ref=message_ref
        )

    async def permalink(self, *, channel_id: str, message_ref: str) -> str | None:
        return await self._for(channel_id).permalink(channel_id=channel_id, message_ref=message_ref)

    async def user_by_email(self, *, email: str) -> str | None:
        """The person on the default platform, else on another: a viewer is matched to
        one chat identity, the one the incidents most likely recorded."""
        ordered = [self._default, *(p for p in self._platforms.values() if p is not self._default)]
        for platform in ordered:
            found = await platform.user_by_email(email=email)
            if found is not None:
                return found
        return None

    def channel_name(self, *, template: str, number: int, title: str, severity: str) -> str:
        return self._default.channel_name(
            template=template, number=number, title=title, severity=severity
        )

    def alternative_channel_name(self, name: str, attempt: int) -> str:
        return self._default.alternative_channel_name(name, attempt)
