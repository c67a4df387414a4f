"""The Slack adapter: ChatPlatform over slack_sdk's async Web API client."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Sequence
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.chat.port import ChatMessage, Message, OpenedChannel
from bot.chat.slack.blocks import slack_escape, to_blocks
from bot.chat.slack.channel_names import alternative_name, build_channel_name
from bot.chat.slack.forms import to_modal
from bot.chat.slack.markup import from_slack_text, message_time
from bot.errors import ChannelNameTaken, DeliveryError
from bot.inbound.forms import Form

log = logging.getLogger(__name__)

MARKER_EVENT_TYPE = "warroom_message"
# Errors that mean "try again later" rather than "this request is wrong".
TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
# Errors about the app's own credentials, not about the request.
CREDENTIAL_ERRORS = frozenset(
    {"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive",
     "missing_scope", "no_permission", "ekm_access_denied"}
)  # fmt: skip
CREDENTIAL_RETRY_SECONDS = 300.0
# Answers that mean the effect is already there: success for an idempotent effect.
ALREADY_DONE = {
    "conversations.invite": frozenset({"already_in_channel"}),
    "pins.add": frozenset({"already_pinned"}),
}
HISTORY_SCAN_LIMIT = 200


def build_web_client(*, token: str, base_url: str, timeout: int = 15) -> AsyncWebClient:
    """The one Web API client: our base URL, and retries for 429 / 5xx / dropped connections."""
    return AsyncWebClient(
        token=token,
        base_url=base_url if base_url.endswith("/") else base_url + "/",
        timeout=timeout,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=1),
            AsyncServerErrorRetryHandler(max_retry_count=1),
        ],
    )


def _chat_error(method: str, exc: Exception) -> DeliveryError:
    if isinstance(exc, SlackApiError):
        status = exc.response.status_code
        code = str(exc.response.get("error") or f"http_{status}")
        retry_after = None
        if status == 429:
            header = exc.response.headers.get("Retry-After") or exc.response.headers.get(
                "retry-after"
            )
            retry_after = float(header) if header else 1.0
        if code in CREDENTIAL_ERRORS:
            # The app's token or scopes are wrong: nothing lands until an admin fixes them,
            # and then everything owed must still land. Wait long, never give up.
            return DeliveryError(code, retry_after=CREDENTIAL_RETRY_SECONDS, detail=method)
        transient = status == 429 or status >= 500 or code in TRANSIENT_ERRORS
        error_type = ChannelNameTaken if code == "name_taken" else DeliveryError
        return error_type(code, retryable=transient, retry_after=retry_after, detail=method)
    return DeliveryError("connection_error", retryable=True, detail=f"{method}: {exc!r}")


class SlackChat:
    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client

    async def _call(self, method: str, request: Awaitable[Any]) -> dict[str, Any]:
        """Await one typed slack_sdk call (it picks JSON or form encoding per method)."""
        try:
            response = await request
        except SlackApiError as exc:
            if exc.response.get("error") in ALREADY_DONE.get(method, frozenset()):
                return dict(exc.response.data) if isinstance(exc.response.data, dict) else {}
            raise _chat_error(method, exc) from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise _chat_error(method, exc) from exc
        return dict(response.data) if isinstance(response.data, dict) else {}

    async def open_channel(self, *, name: str, private: bool) -> OpenedChannel:
        data = await self._call(
            "conversations.create",
            self._client.conversations_create(name=name, is_private=private),
        )
        channel = data["channel"]
        return OpenedChannel(id=str(channel["id"]), name=str(channel["name"]))

    async def invite(self, *, channel_id: str, user_ids: Sequence[str]) -> None:
        await self._call(
            "conversations.invite",
            self._client.conversations_invite(channel=channel_id, users=",".join(user_ids)),
        )

    def _message_args(self, message: Message) -> dict[str, Any]:
        args: dict[str, Any] = {
            "text": slack_escape(message.fallback),
            "blocks": to_blocks(message),
        }
        if message.marker:
            args["metadata"] = {
                "event_type": MARKER_EVENT_TYPE,
                "event_payload": {"marker": message.marker},
            }
        return args

    async def post(self, *, channel_id: str, message: Message) -> str:
        data = await self._call(
            "chat.postMessage",
            self._client.chat_postMessage(
                channel=channel_id,
                unfurl_links=False,
                unfurl_media=False,
                **self._message_args(message),
            ),
        )
        return str(data["ts"])

    async def update(self, *, channel_id: str, message_ref: str, message: Message) -> None:
        args = self._message_args(message)
        await self._call(
            "chat.update", self._client.chat_update(channel=channel_id, ts=message_ref, **args)
        )

    async def pin(self, *, channel_id: str, message_ref: str) -> None:
        await self._call(
            "pins.add", self._client.pins_add(channel=channel_id, timestamp=message_ref)
        )

    async def find_marked(self, *, channel_id: str, marker: str) -> str | None:
        data = await self._call(
            "conversations.history",
            self._client.conversations_history(
                channel=channel_id, limit=HISTORY_SCAN_LIMIT, include_all_metadata=True
            ),
        )
        for message in data.get("messages", []):
            metadata = message.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if metadata.get("event_type") == MARKER_EVENT_TYPE and payload.get("marker") == marker:
                return str(message["ts"])
        return None

    async def reply_privately(self, *, channel_id: str, user_id: str, text: str) -> None:
        await self._call(
            "chat.postEphemeral",
            self._client.chat_postEphemeral(
                channel=channel_id, user=user_id, text=slack_escape(text)
            ),
        )

    async def group_members(self, *, group_id: str) -> list[str]:
        data = await self._call(
            "usergroups.users.list", self._client.usergroups_users_list(usergroup=group_id)
        )
        return [str(user) for user in data.get("users", [])]

    async def permalink(self, *, channel_id: str, message_ref: str) -> str | None:
        try:
            link = await self._call(
                "chat.getPermalink",
                self._client.chat_getPermalink(channel=channel_id, message_ts=message_ref),
            )
        except DeliveryError:
            return None  # the entry still names the author and the time
        value = link.get("permalink")
        return str(value) if value else None

    async def read_message(self, *, channel_id: str, message_ref: str) -> ChatMessage | None:
        ts = message_ref
        try:
            found = await self._call(
                "conversations.history",
                self._client.conversations_history(
                    channel=channel_id, latest=ts, oldest=ts, inclusive=True, limit=1
                ),
            )
            messages = found.get("messages") or []
            if not messages:  # a reply in a thread is not in the channel's history
                found = await self._call(
                    "conversations.replies",
                    self._client.conversations_replies(
                        channel=channel_id, ts=ts, latest=ts, oldest=ts, inclusive=True, limit=1
                    ),
                )
                messages = [m for m in found.get("messages") or [] if m.get("ts") == ts]
        except DeliveryError as error:
            log.warning("cannot read message %s in %s: %s", ts, channel_id, error)
            return None
        if not messages:
            return None
        message = messages[0]
        return ChatMessage(
            channel_id=channel_id,
            ref=ts,
            author=message.get("user"),
            text=from_slack_text(str(message.get("text", ""))),
            posted_at=message_time(ts),
            permalink=await self.permalink(channel_id=channel_id, message_ref=ts),
        )

    async def open_form(self, *, trigger_id: str, form: Form) -> None:
        """Show a form to the person whose request carried `trigger_id` (valid 3 s)."""
        await self._call(
            "views.open", self._client.views_open(trigger_id=trigger_id, view=to_modal(form))
        )

    def channel_name(self, *, template: str, number: int, title: str, severity: str) -> str:
        return build_channel_name(template, number=number, title=title, severity=severity)

    def alternative_channel_name(self, name: str, attempt: int) -> str:
        return alternative_name(name, attempt)
