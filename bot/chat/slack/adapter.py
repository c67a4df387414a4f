"""The Slack adapter: ChatPlatform over slack_sdk's async Web API client.

A call that fails tells the core one of three things, by type (bot/errors.py,
bot/chat/port.py): Slack refused it (`DeliveryError`, retryable or not), it surely never
reached Slack (a retryable `DeliveryError`: no connection, rate limited), or nobody knows
whether Slack carried it out (`OutcomeUnknown`: a timeout, a connection lost after the
request went out, a 5xx, `internal_error`). Slack may carry out a slow call after we gave
up on it, so only calls that are safe to repeat are retried blindly: slack_sdk's own retry
handlers run on a client for those, and posts and channel creation go through a second
client that retries only what never reached Slack. The core reconciles the rest.

Where Slack says how to repair a refusal, the adapter repairs it and calls again: not in
the channel → `conversations.join` (public channels only).

Sharing a file takes three calls of its own, in bot/chat/slack/files.py.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.chat.port import (
    ChatMessage,
    Document,
    Message,
    OpenedChannel,
    OutcomeUnknown,
    OwnChannel,
)
from bot.chat.slack.blocks import slack_escape, to_blocks
from bot.chat.slack.call_metrics import CallCounter, counters_of
from bot.chat.slack.channel_names import MAX_LENGTH, alternative_name, build_channel_name
from bot.chat.slack.files import SlackFiles
from bot.chat.slack.forms import to_modal
from bot.chat.slack.markup import from_slack_text, message_time
from bot.errors import ChannelNameTaken, DeliveryError
from bot.inbound.forms import Form
from bot.observability.metrics import ChatCallObserver

log = logging.getLogger(__name__)

MARKER_EVENT_TYPE = "warroom_message"
# Errors that mean "try again later" rather than "this request is wrong".
TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
# Of those, the ones Slack documents as "some aspect of the operation may have succeeded".
MAYBE_DONE_ERRORS = frozenset({"internal_error", "fatal_error"})
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
    "chat.delete": frozenset({"message_not_found"}),
    "files.delete": frozenset({"file_not_found", "file_deleted"}),
}
# Where an ephemeral message cannot reach its reader, a direct message from the app can.
EPHEMERAL_UNREACHABLE = frozenset(
    {"not_in_channel", "channel_not_found", "user_not_in_channel", "is_archived"}
)
HISTORY_SCAN_LIMIT = 200
CHANNEL_PAGE = 1000  # users.conversations' largest page
CHANNEL_PAGES = 20  # a bot in more than 20,000 channels: the oldest are not incidents of now
# Alternatives past this many take a suffix derived from the name, the same on every
# attempt, so a retry looks for the very names an interrupted attempt may have created.
NUMBERED_ALTERNATIVES = 5


def build_web_client(
    *, token: str, base_url: str, timeout: int = 15, on_call: ChatCallObserver | None = None
) -> AsyncWebClient:
    """The Web API client for calls that are safe to repeat (edits, pins, invitations,
    reads; Bolt's): our base URL, and retries for 429 / 5xx / dropped connections.
    `on_call` hears of every attempt (its method and outcome), retried ones included.

    Its `session` is None until the app's lifespan shares one (`share_session`): until
    then slack_sdk opens an aiohttp session per call, as it does by default."""
    base_url = base_url if base_url.endswith("/") else base_url + "/"
    counted = [CallCounter(on_call, base_url=base_url)] if on_call is not None else []
    return AsyncWebClient(
        token=token,
        base_url=base_url,
        timeout=timeout,
        retry_handlers=[
            *counted,
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=1),
            AsyncServerErrorRetryHandler(max_retry_count=1),
        ],
    )


def single_shot_client(client: AsyncWebClient) -> AsyncWebClient:
    """`client` for calls that must not be repeated blindly (a post, a new channel): it
    retries only what cannot have reached Slack (no connection made, 429). A dropped
    connection or a 5xx may come after Slack carried the call out, and repeating it would
    post twice; the core reconciles those (bot/delivery/effects.py)."""
    return AsyncWebClient(
        token=client.token,
        base_url=client.base_url,
        timeout=client.timeout,
        session=client.session,
        retry_handlers=[
            *counters_of(client.retry_handlers),
            AsyncConnectionErrorRetryHandler(
                max_retry_count=2, error_types=[aiohttp.ClientConnectorError]
            ),
            AsyncRateLimitErrorRetryHandler(max_retry_count=1),
        ],
    )


async def share_session(
    chat: object, *clients: AsyncWebClient | None
) -> aiohttp.ClientSession | None:
    """One aiohttp session (its connection pool, its keep-alive connections) for every Web
    API client of the process: `chat`'s if it is the Slack adapter, and `clients` (Bolt's).
    slack_sdk otherwise opens a session, and a TLS connection, per call.

    Call it in the app's lifespan, on the loop the session belongs to; close the session
    it returns at shutdown (None: no Slack client to share it)."""
    targets = [client for client in clients if client is not None]
    if isinstance(chat, SlackChat):
        targets += chat.web_clients
    if not targets:
        return None
    # A shared session's timeout is the session's: slack_sdk only applies its own
    # `timeout` to the sessions it opens itself.
    timeout = max(client.timeout for client in targets)
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout))
    for client in targets:
        client.session = session
    return session


def _chat_error(method: str, exc: Exception) -> DeliveryError:
    if isinstance(exc, SlackApiError):
        status = exc.response.status_code
        code = str(exc.response.get("error") or f"http_{status}")
        header = exc.response.headers.get("Retry-After") or exc.response.headers.get("retry-after")
        retry_after = float(header) if header and header.isdigit() else None
        if status == 429:
            retry_after = retry_after or 1.0
        if code in CREDENTIAL_ERRORS:
            # The app's token or scopes are wrong: nothing lands until an admin fixes them,
            # and then everything owed must still land. Wait long, never give up.
            return DeliveryError(code, retry_after=CREDENTIAL_RETRY_SECONDS, detail=method)
        if status >= 500 or code in MAYBE_DONE_ERRORS:
            # An error page or a crash on Slack's side: the call may have been carried out.
            return OutcomeUnknown(code, retry_after=retry_after, detail=method)
        transient = status == 429 or code in TRANSIENT_ERRORS
        error_type = ChannelNameTaken if code == "name_taken" else DeliveryError
        return error_type(code, retryable=transient, retry_after=retry_after, detail=method)
    if isinstance(exc, aiohttp.ClientConnectorError):
        # No connection was ever made: the request cannot have reached Slack.
        return DeliveryError("connection_error", detail=f"{method}: {exc!r}")
    if isinstance(exc, TimeoutError):
        return OutcomeUnknown("timeout", detail=f"{method}: no answer in time", timed_out=True)
    return OutcomeUnknown("connection_lost", detail=f"{method}: {exc!r}")


def _data(response: AsyncSlackResponse) -> dict[str, Any]:
    return dict(response.data) if isinstance(response.data, dict) else {}


def _marker_of(message: dict[str, Any]) -> str | None:
    metadata = message.get("metadata") or {}
    if metadata.get("event_type") != MARKER_EVENT_TYPE:
        return None
    marker = (metadata.get("event_payload") or {}).get("marker")
    return str(marker) if marker is not None else None


Send = Callable[[], Awaitable[AsyncSlackResponse]]


class SlackChat:
    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client  # calls that are safe to repeat
        self._once = single_shot_client(client)  # posts and new channels
        self._bot_user_id: str | None = None
        self._files = SlackFiles(
            call=self._call,
            client=client,
            once=self._once,
            recent=self._recent,
            bot_user=self._bot_user,
        )

    @property
    def web_clients(self) -> tuple[AsyncWebClient, ...]:
        return (self._client, self._once)

    async def _call(self, method: str, send: Send, *, joining: str | None = None) -> dict[str, Any]:
        """Make one slack_sdk call (it picks JSON or form encoding per method) and read its
        answer. `send` starts the call, so it can be made again after a repair: with
        `joining`, a `not_in_channel` refusal joins that channel and calls once more."""
        try:
            response = await send()
        except SlackApiError as exc:
            code = exc.response.get("error")
            if code in ALREADY_DONE.get(method, frozenset()):
                return dict(exc.response.data) if isinstance(exc.response.data, dict) else {}
            if code == "not_in_channel" and joining is not None:
                await self._join(joining, refused=_chat_error(method, exc))
                return await self._call(method, send)
            raise _chat_error(method, exc) from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise _chat_error(method, exc) from exc
        return _data(response)

    async def _join(self, channel_id: str, *, refused: DeliveryError) -> None:
        """Join a public channel so that a refused call can be made again; a channel the
        bot cannot join (private, archived) leaves the original refusal standing."""
        try:
            await self._call(
                "conversations.join", lambda: self._client.conversations_join(channel=channel_id)
            )
        except DeliveryError as error:
            if error.retryable:
                raise  # Slack is unwell: the whole call is tried again later
            raise DeliveryError(
                refused.code, retryable=False, detail=f"{refused.detail}; cannot join: {error}"
            ) from error
        log.info("joined %s to carry out a call Slack refused with not_in_channel", channel_id)

    async def _bot_user(self) -> str:
        """The bot's own user id (what Slack names as a channel's creator)."""
        if self._bot_user_id is None:
            data = await self._call("auth.test", lambda: self._client.auth_test())
            self._bot_user_id = str(data["user_id"])
        return self._bot_user_id

    async def open_channel(
        self, *, name: str, private: bool, near: str | None = None
    ) -> OpenedChannel:
        data = await self._call(
            "conversations.create",
            lambda: self._once.conversations_create(name=name, is_private=private),
        )
        channel = data["channel"]
        return OpenedChannel(id=str(channel["id"]), name=str(channel["name"]))

    async def own_channels(self, *, names: Collection[str]) -> dict[str, OwnChannel]:
        """The bot's own channels among `names`, read from the channels it is in (far
        fewer than the workspace's): users.conversations, paged."""
        wanted, bot = set(names), await self._bot_user()
        found: dict[str, OwnChannel] = {}
        page: dict[str, Any] = {}  # the cursor of the next page, once there is one
        for _ in range(CHANNEL_PAGES):
            data = await self._call(
                "users.conversations",
                partial(
                    self._client.users_conversations,
                    types="public_channel,private_channel",
                    exclude_archived=True,
                    limit=CHANNEL_PAGE,
                    **page,
                ),
            )
            for channel in data.get("channels") or []:
                name = str(channel.get("name", ""))
                if name in wanted and channel.get("creator") == bot:
                    created = channel.get("created")
                    found[name] = OwnChannel(
                        id=str(channel["id"]),
                        name=name,
                        created_at=datetime.fromtimestamp(created, UTC) if created else None,
                    )
            cursor = (data.get("response_metadata") or {}).get("next_cursor")
            if not cursor or len(found) == len(wanted):
                break
            page = {"cursor": str(cursor)}
        return found

    async def invite(self, *, channel_id: str, user_ids: Sequence[str]) -> None:
        await self._call(
            "conversations.invite",
            lambda: self._client.conversations_invite(channel=channel_id, users=",".join(user_ids)),
            joining=channel_id,
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
        args = self._message_args(message)
        if message.thread_ref:
            args["thread_ts"] = message.thread_ref
        data = await self._call(
            "chat.postMessage",
            lambda: self._once.chat_postMessage(
                channel=channel_id, unfurl_links=False, unfurl_media=False, **args
            ),
            joining=channel_id,
        )
        return str(data["ts"])

    async def update(self, *, channel_id: str, message_ref: str, message: Message) -> None:
        args = self._message_args(message)
        await self._call(
            "chat.update",
            lambda: self._client.chat_update(channel=channel_id, ts=message_ref, **args),
        )

    async def pin(self, *, channel_id: str, message_ref: str) -> None:
        await self._call(
            "pins.add",
            lambda: self._client.pins_add(channel=channel_id, timestamp=message_ref),
            joining=channel_id,
        )

    async def delete(self, *, channel_id: str, message_ref: str) -> None:
        await self._call(
            "chat.delete", lambda: self._client.chat_delete(channel=channel_id, ts=message_ref)
        )

    async def _recent(self, channel_id: str, thread_ref: str | None = None) -> list[dict[str, Any]]:
        """The channel's (or a thread's) recent messages, with their metadata."""
        if thread_ref is not None:
            data = await self._call(
                "conversations.replies",
                lambda: self._client.conversations_replies(
                    channel=channel_id,
                    ts=thread_ref,
                    limit=HISTORY_SCAN_LIMIT,
                    include_all_metadata=True,
                ),
            )
        else:
            data = await self._call(
                "conversations.history",
                lambda: self._client.conversations_history(
                    channel=channel_id, limit=HISTORY_SCAN_LIMIT, include_all_metadata=True
                ),
                joining=channel_id,  # an announce channel the bot only ever posted in
            )
        return list(data.get("messages") or [])

    async def _marked(self, channel_id: str, thread_ref: str | None) -> list[tuple[str, str]]:
        """(ts, marker) of the channel's (or a thread's) recent messages that carry one."""
        found = []
        for message in await self._recent(channel_id, thread_ref):
            marker = _marker_of(message)
            if marker is not None:
                found.append((str(message["ts"]), marker))
        return found

    async def find_marked(
        self, *, channel_id: str, marker: str, thread_ref: str | None = None
    ) -> str | None:
        # The oldest copy: the one a sweep of late duplicates keeps when nothing is recorded.
        copies = await self.all_marked(channel_id=channel_id, marker=marker, thread_ref=thread_ref)
        return copies[0] if copies else None

    async def all_marked(
        self, *, channel_id: str, marker: str, thread_ref: str | None = None
    ) -> list[str]:
        marked = await self._marked(channel_id, thread_ref)
        refs = [ts for ts, found in marked if found == marker]
        return sorted(refs, key=float)

    async def upload_file(self, *, channel_id: str, document: Document) -> str:
        return await self._files.upload(channel_id, document)

    async def files_named(self, *, channel_id: str, filename: str) -> list[str]:
        return await self._files.named(channel_id, filename)

    async def delete_file(self, *, file_ref: str) -> None:
        await self._files.delete(file_ref)

    async def direct_channel(self, *, user_id: str) -> str:
        # Opening one that is open already answers it again: safe to repeat.
        data = await self._call(
            "conversations.open", lambda: self._client.conversations_open(users=user_id)
        )
        return str(data["channel"]["id"])

    async def reply_privately(self, *, channel_id: str, user_id: str, message: Message) -> None:
        args: dict[str, Any] = {
            "text": slack_escape(message.fallback),
            "blocks": to_blocks(message),
        }
        try:
            await self._call(
                "chat.postEphemeral",
                lambda: self._once.chat_postEphemeral(channel=channel_id, user=user_id, **args),
            )
        except DeliveryError as error:
            if error.code not in EPHEMERAL_UNREACHABLE:
                raise
            # A channel the bot is not in, or one its reader left: the app's direct
            # message with them reaches them all the same.
            await self._call(
                "chat.postMessage", lambda: self._once.chat_postMessage(channel=user_id, **args)
            )

    async def group_members(self, *, group_id: str) -> list[str]:
        data = await self._call(
            "usergroups.users.list", lambda: self._client.usergroups_users_list(usergroup=group_id)
        )
        return [str(user) for user in data.get("users", [])]

    async def permalink(self, *, channel_id: str, message_ref: str) -> str | None:
        try:
            link = await self._call(
                "chat.getPermalink",
                lambda: self._client.chat_getPermalink(channel=channel_id, message_ts=message_ref),
            )
        except DeliveryError:
            return None  # the entry still names the author and the time
        value = link.get("permalink")
        return str(value) if value else None

    async def user_by_email(self, *, email: str) -> str | None:
        try:
            data = await self._call(
                "users.lookupByEmail", lambda: self._client.users_lookupByEmail(email=email)
            )
        except DeliveryError as error:
            if error.code == "users_not_found":
                return None  # no one in the workspace has it: not a failure
            raise
        user = data.get("user") or {}
        # A deactivated account is no one who could be in an incident now.
        if user.get("deleted") or not user.get("id"):
            return None
        return str(user["id"])

    async def read_message(self, *, channel_id: str, message_ref: str) -> ChatMessage | None:
        ts = message_ref
        try:
            found = await self._call(
                "conversations.history",
                lambda: self._client.conversations_history(
                    channel=channel_id, latest=ts, oldest=ts, inclusive=True, limit=1
                ),
            )
            messages = found.get("messages") or []
            if not messages:  # a reply in a thread is not in the channel's history
                found = await self._call(
                    "conversations.replies",
                    lambda: self._client.conversations_replies(
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
            "views.open",
            lambda: self._client.views_open(trigger_id=trigger_id, view=to_modal(form)),
        )

    def channel_name(self, *, template: str, number: int, title: str, severity: str) -> str:
        return build_channel_name(template, number=number, title=title, severity=severity)

    def alternative_channel_name(self, name: str, attempt: int) -> str:
        if attempt < NUMBERED_ALTERNATIVES:
            return alternative_name(name, attempt)
        digest = hashlib.sha256(f"{name}#{attempt}".encode()).hexdigest()[:6]
        suffix = f"-{digest}"
        return name[: MAX_LENGTH - len(suffix)].rstrip("-_") + suffix
