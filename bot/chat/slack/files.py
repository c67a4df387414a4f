"""Files the Slack adapter shares: Slack's external upload, in its three steps.

1. `files.getUploadURLExternal` hands out a ticket: a file id and a URL for the bytes.
2. The bytes are POSTed to that URL.
3. `files.completeUploadExternal` shares the file in the channel, with its comment.

Nothing is shown to anyone before the third step, so a failure of the first two is never
an `OutcomeUnknown`, however it ends: trying again (with a new ticket) cannot share the
file twice. Only the third step can leave the share's fate unknown; the caller then looks
for the share by the file's name (`named`) before uploading again, and sweeps a late
duplicate the same way.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient

from bot.chat.port import Document
from bot.chat.slack.blocks import to_mrkdwn
from bot.errors import DeliveryError, OutcomeUnknown

# What a failed POST of the bytes names in its error.
UPLOAD_STEP = "file upload"
# Refusals of the share that a whole new upload repairs: the ticket expired, or its bytes
# never arrived. Nothing was shared, so starting over is safe.
START_OVER_ERRORS = frozenset({"file_not_found"})
UPLOAD_ERROR_TEXT = 200  # how much of a refused upload's answer is worth keeping

_HEADING = re.compile(r"^# (?P<text>.+)$", re.MULTILINE)


class CallSlack(Protocol):
    """The adapter's one way of making a Web API call (SlackChat._call)."""

    def __call__(
        self,
        method: str,
        send: Callable[[], Awaitable[Any]],
        *,
        joining: str | None = None,
    ) -> Awaitable[dict[str, Any]]: ...


def comment_mrkdwn(markdown: str) -> str:
    """A comment in our Markdown as the mrkdwn of a message's text. Text has no headers,
    so a heading is shown in bold."""
    return to_mrkdwn(_HEADING.sub(r"**\g<text>**", markdown))


class SlackFiles:
    """Sharing, finding and deleting the bot's files. `recent` lists a channel's recent
    messages as Slack has them; `bot_user` is the bot's own user id."""

    def __init__(
        self,
        *,
        call: CallSlack,
        client: AsyncWebClient,
        once: AsyncWebClient,
        recent: Callable[[str], Awaitable[list[dict[str, Any]]]],
        bot_user: Callable[[], Awaitable[str]],
    ) -> None:
        self._call = call
        self._client = client  # calls that are safe to repeat
        self._once = once  # the share, which must not be repeated blindly
        self._recent = recent
        self._bot_user = bot_user

    async def upload(self, channel_id: str, document: Document) -> str:
        """Share `document` in the channel; the file's id."""
        try:
            ticket = await self._call(
                "files.getUploadURLExternal",
                lambda: self._client.files_getUploadURLExternal(
                    filename=document.filename, length=len(document.content)
                ),
            )
            await self._send_bytes(str(ticket["upload_url"]), document.content)
        except OutcomeUnknown as error:
            # Unknown or not, its outcome left nothing anyone sees: a new upload is safe.
            detail = error.detail
            raise DeliveryError(error.code, retry_after=error.retry_after, detail=detail) from error
        file_id = str(ticket["file_id"])
        try:
            await self._call(
                "files.completeUploadExternal",
                lambda: self._once.files_completeUploadExternal(
                    files=[{"id": file_id, "title": document.title}],
                    channel_id=channel_id,
                    initial_comment=comment_mrkdwn(document.comment) or None,
                ),
                joining=channel_id,
            )
        except DeliveryError as error:
            if error.code in START_OVER_ERRORS and not isinstance(error, OutcomeUnknown):
                raise DeliveryError(error.code, detail=error.detail) from error
            raise
        return file_id

    async def _send_bytes(self, url: str, content: bytes) -> None:
        """POST the bytes to the URL of their ticket, on the client's session when the app
        shares one. No token: the URL is the ticket, and is not Slack's API host."""
        shared = self._client.session
        session = (
            shared
            if shared is not None and not shared.closed
            else aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self._client.timeout))
        )
        options: dict[str, Any] = {}
        if self._client.proxy:
            options["proxy"] = self._client.proxy
        if self._client.ssl is not None:
            options["ssl"] = self._client.ssl
        try:
            async with session.post(url, data=content, **options) as response:
                status, retry_header = response.status, response.headers.get("Retry-After")
                text = (await response.text())[:UPLOAD_ERROR_TEXT]
        except TimeoutError as exc:
            raise DeliveryError("timeout", detail=f"{UPLOAD_STEP}: no answer in time") from exc
        except aiohttp.ClientError as exc:
            raise DeliveryError("connection_error", detail=f"{UPLOAD_STEP}: {exc!r}") from exc
        finally:
            if session is not shared:
                await session.close()
        if status == 200:
            return
        retry_after = float(retry_header) if retry_header and retry_header.isdigit() else None
        if status == 429:
            retry_after = retry_after or 1.0
        raise DeliveryError(
            f"upload_http_{status}",
            # A refusal of the bytes themselves would be refused again; the rest may pass.
            retryable=status >= 500 or status in (408, 429),
            retry_after=retry_after,
            detail=f"{UPLOAD_STEP}: {text}",
        )

    async def named(self, channel_id: str, filename: str) -> list[str]:
        """The ids of the files this bot recently shared in the channel as `filename`,
        oldest first, read from the messages that shared them."""
        bot = await self._bot_user()
        shared: dict[str, float] = {}
        for message in await self._recent(channel_id):
            if message.get("user") != bot:
                continue
            for file in message.get("files") or []:
                # A deleted file may linger in its message as a tombstone.
                if file.get("name") == filename and file.get("mode") != "tombstone":
                    shared.setdefault(str(file["id"]), float(message["ts"]))
        return sorted(shared, key=lambda ref: shared[ref])

    async def delete(self, file_ref: str) -> None:
        # One already gone answers file_not_found or file_deleted: the adapter's _call
        # takes those as done.
        await self._call("files.delete", lambda: self._client.files_delete(file=file_ref))
