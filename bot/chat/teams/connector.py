"""The Bot Connector's REST calls: start a channel thread or a 1:1 chat, post into a
conversation, edit or remove a post.

Every call goes to the `serviceUrl` the conversation's inbound activities carried, with
the bot's bearer token (none in an anonymous local trial). Answers are read into
`bot.errors`: a post whose answer never came, or came as a server error, may well have
landed (`OutcomeUnknown`), so the outbox looks before posting again; edits and deletes
can simply be repeated.
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

import httpx

from bot.errors import DeliveryError, OutcomeUnknown
from bot.observability.metrics import ChatCallObserver, ChatOutcome

EXCERPT_CHARS = 200  # of the service's own words in an error
DETAIL_CHARS = 400  # of an error's whole detail: the call, its status and those words
REDACTED = "[redacted]"
# Answers Microsoft asks callers to retry: a busy or briefly inconsistent service.
RETRY_LATER_STATUSES = frozenset({408, 412})
# A throttled bot without a Retry-After waits 1 s, 2 s, 4 s … (spread ±25%), as Microsoft
# asks; the count is the bot's, since its limits are per bot (per thread and per tenant).
FIRST_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 60.0
THREAD_MARKER = ";messageid="


class TokenSource(Protocol):
    async def token(self) -> str: ...


@dataclass(frozen=True)
class ConversationStarted:
    conversation_id: str  # the thread's conversation id ("19:…@thread.tacv2;messageid=…")
    activity_id: str  # its root post


class TeamsHttp:
    """Authorized JSON calls to one of Microsoft's services, their failures read into
    `bot.errors`. Shared by the Bot Connector and Graph clients."""

    def __init__(
        self, *, http: httpx.AsyncClient, tokens: TokenSource | None, timeout: float
    ) -> None:
        self._http, self._tokens, self._timeout = http, tokens, timeout
        # The tokens sent lately (a refresh can overtake a call still out): none of them
        # may appear in an error, even one the service echoed back.
        self._sent_tokens: deque[str] = deque(maxlen=4)
        self._throttled = 0  # 429s in a row, for the backoff when no Retry-After comes
        # Told of each call that names its `operation`: (operation, outcome).
        self.on_call: ChatCallObserver | None = None

    async def call(
        self,
        method: str,
        url: str,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        content: tuple[bytes, str] | None = None,
        posts: bool = False,
        not_found: str | None = None,
        accept: frozenset[int] = frozenset(),
        operation: str | None = None,
    ) -> httpx.Response:
        """The answer when it is a success or one of `accept`; else a DeliveryError.

        `content`: a raw body and its media type (a file's bytes) instead of JSON.
        `posts`: the call creates something, so a lost answer or a server error leaves
        unknown whether it did. `not_found`: the code a 404 becomes. `operation`: the
        API's own name for the call, for `on_call`."""
        what = f"{method} {httpx.URL(url).path}"
        headers = {"Accept": "application/json"}
        if self._tokens is not None:
            # A failure to get a token is the token source's own, and propagates as is.
            token = await self._tokens.token()
            if token not in self._sent_tokens:
                self._sent_tokens.append(token)
            headers["Authorization"] = f"Bearer {token}"
        raw: bytes | None = None
        if content is not None:
            raw, headers["Content-Type"] = content
        try:
            answer = await self._http.request(
                method,
                url,
                json=body,
                content=raw,
                params=params,
                headers=headers,
                timeout=self._timeout,
            )
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as error:
            self._counted(operation, "error")
            detail = self.scrub(f"{what}: {error}")
            raise DeliveryError("teams_bad_service_url", retryable=False, detail=detail) from None
        except httpx.RequestError as error:
            self._counted(operation, "error")
            raise self._unanswered(error, what, posts=posts) from None
        status = answer.status_code
        ok = 200 <= status < 300 or status in accept
        self._counted(operation, "ok" if ok else "rate_limited" if status == 429 else "error")
        if status == 429:
            self._throttled += 1
        elif status < 500:
            self._throttled = 0
        if ok:
            return answer
        raise self.refusal(answer, what, posts=posts, not_found=not_found)

    def _counted(self, operation: str | None, outcome: ChatOutcome) -> None:
        if operation is not None and self.on_call is not None:
            self.on_call(operation, outcome)

    def refusal(
        self, answer: httpx.Response, what: str, *, posts: bool, not_found: str | None = None
    ) -> DeliveryError:
        status = answer.status_code
        detail = self.scrub(f"{what}: {status} {_message(answer)}")
        if status == 429:
            wait = _retry_after(answer) or self._backoff()
            return DeliveryError("teams_rate_limited", retry_after=wait, detail=detail)
        if status in (401, 403):
            # The app's id, secret or permissions are wrong: no retry fixes that.
            return DeliveryError("teams_unauthorized", retryable=False, detail=detail)
        if status >= 500 or status in RETRY_LATER_STATUSES:
            code, retry_after = f"teams_http_{status}", _retry_after(answer)
            if posts:
                return OutcomeUnknown(code, retry_after=retry_after, detail=detail)
            return DeliveryError(code, retry_after=retry_after, detail=detail)
        if status == 404 and not_found is not None:
            return DeliveryError(not_found, retryable=False, detail=detail)
        code = "teams_bad_request" if status == 400 else f"teams_http_{status}"
        return DeliveryError(code, retryable=False, detail=detail)

    def unreadable(self, answer: httpx.Response, what: str, *, posts: bool) -> DeliveryError:
        # A post that was answered but not understood may well have been carried out.
        error_type = OutcomeUnknown if posts else DeliveryError
        return error_type(
            "teams_answer_unreadable", detail=self.scrub(f"{what}: {_excerpt(answer)}")
        )

    def scrub(self, text: str) -> str:
        # Redacted before it is cut, so that no part of a token survives the cut.
        for token in self._sent_tokens:
            text = text.replace(token, REDACTED)
        return text[:DETAIL_CHARS]

    def _unanswered(self, error: httpx.RequestError, what: str, *, posts: bool) -> DeliveryError:
        detail = self.scrub(f"{what}: {type(error).__name__} {error}".strip())
        if isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
            # No connection was made: the request cannot have reached the service.
            return DeliveryError("teams_unreachable", detail=detail)
        timed_out = isinstance(error, httpx.TimeoutException)
        code = "teams_timeout" if timed_out else "teams_connection_lost"
        if posts:
            return OutcomeUnknown(code, detail=detail, timed_out=timed_out)
        return DeliveryError(code, detail=detail)

    def _backoff(self) -> float:
        base = min(FIRST_BACKOFF_SECONDS * 2.0 ** max(self._throttled - 1, 0), MAX_BACKOFF_SECONDS)
        return base * random.uniform(0.75, 1.25)


class BotConnector:
    """The Bot Connector REST API (v3) as warroom uses it.

    `tokens` None: anonymous, for a local trial (the Agents Playground) or a test double:
    no Authorization header is sent."""

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        tokens: TokenSource | None,
        bot_id: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._rest = TeamsHttp(http=http, tokens=tokens, timeout=timeout)
        self._bot = (
            {"id": bot_id if bot_id.startswith("28:") else "28:" + bot_id} if bot_id else None
        )

    def count_calls(self, on_call: ChatCallObserver) -> None:
        """Tell `on_call` of every call, by its Bot Connector operation name."""
        self._rest.on_call = on_call

    async def create_conversation(
        self,
        *,
        service_url: str,
        channel_id: str,
        tenant_id: str | None,
        activity: dict[str, Any],
    ) -> ConversationStarted:
        """A new thread in a channel, `activity` its root post."""
        channel_data: dict[str, Any] = {"channel": {"id": channel_id}}
        body: dict[str, Any] = {"isGroup": True, "channelData": channel_data}
        self._address(body, tenant_id)
        body["activity"] = _message_activity(activity)
        url = _base(service_url) + "/v3/conversations"
        answer = await self._rest.call(
            "POST",
            url,
            body=body,
            posts=True,
            not_found="teams_conversation_not_found",
            operation="createConversation",
        )
        data = json_object(answer)
        conversation_id, activity_id = data.get("id"), data.get("activityId")
        if (
            isinstance(conversation_id, str)
            and not activity_id
            and THREAD_MARKER in conversation_id
        ):
            activity_id = conversation_id.rpartition(THREAD_MARKER)[2]
        if not (isinstance(conversation_id, str) and conversation_id):
            raise self._rest.unreadable(answer, "POST /v3/conversations", posts=True)
        if not (isinstance(activity_id, str) and activity_id):
            raise self._rest.unreadable(answer, "POST /v3/conversations", posts=True)
        return ConversationStarted(conversation_id, activity_id)

    async def create_personal(
        self, *, service_url: str, user_id: str, tenant_id: str | None
    ) -> str:
        """The id of the 1:1 chat between the bot and a person.

        Asking again answers the same chat, so an answer lost on the way is no reason to
        look before asking again: its failures are plain `DeliveryError`s."""
        body: dict[str, Any] = {"isGroup": False, "members": [{"id": user_id}]}
        self._address(body, tenant_id)
        url = _base(service_url) + "/v3/conversations"
        answer = await self._rest.call(
            "POST",
            url,
            body=body,
            not_found="teams_conversation_not_found",
            operation="createConversation",
        )
        conversation_id = json_object(answer).get("id")
        if not (isinstance(conversation_id, str) and conversation_id):
            raise self._rest.unreadable(answer, "POST /v3/conversations", posts=False)
        return conversation_id

    async def send(
        self,
        *,
        service_url: str,
        conversation_id: str,
        activity: dict[str, Any],
        reply_to: str | None = None,
    ) -> str:
        """Post into a conversation (a thread's id posts into that thread); the new post's
        activity id."""
        url = _activities(service_url, conversation_id)
        if reply_to is not None:
            url += "/" + quote(reply_to, safe="")
        answer = await self._rest.call(
            "POST",
            url,
            body=_message_activity(activity),
            posts=True,
            not_found="teams_conversation_not_found",
            operation="sendToConversation" if reply_to is None else "replyToActivity",
        )
        activity_id = json_object(answer).get("id")
        if not (isinstance(activity_id, str) and activity_id):
            raise self._rest.unreadable(answer, f"POST {httpx.URL(url).path}", posts=True)
        return activity_id

    async def update(
        self,
        *,
        service_url: str,
        conversation_id: str,
        activity_id: str,
        activity: dict[str, Any],
    ) -> None:
        """Replace a post with `activity` (the whole of it: text, attachments, entities)."""
        url = _activities(service_url, conversation_id) + "/" + quote(activity_id, safe="")
        body = {**activity, "type": "message", "id": activity_id}
        await self._rest.call(
            "PUT",
            url,
            body=body,
            not_found="teams_conversation_not_found",
            operation="updateActivity",
        )

    async def delete(self, *, service_url: str, conversation_id: str, activity_id: str) -> None:
        """Remove a post; one already gone is fine."""
        url = _activities(service_url, conversation_id) + "/" + quote(activity_id, safe="")
        await self._rest.call("DELETE", url, accept=frozenset({404}), operation="deleteActivity")

    def _address(self, body: dict[str, Any], tenant_id: str | None) -> None:
        if self._bot is not None:
            body["bot"] = dict(self._bot)
        if tenant_id:
            body["tenantId"] = tenant_id
            body.setdefault("channelData", {})["tenant"] = {"id": tenant_id}


def _base(service_url: str) -> str:
    return service_url.rstrip("/")


def _activities(service_url: str, conversation_id: str) -> str:
    # Conversation ids carry ':' ';' '@' '=': the whole id is one path segment.
    return f"{_base(service_url)}/v3/conversations/{quote(conversation_id, safe='')}/activities"


def _message_activity(activity: dict[str, Any]) -> dict[str, Any]:
    return {"type": "message", **activity}


def json_object(answer: httpx.Response) -> dict[str, Any]:
    """The answer's JSON object; {} for anything else (no body, not JSON, a list)."""
    try:
        data = answer.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _message(answer: httpx.Response) -> str:
    """The service's own words for a refusal: `{"error": {"code", "message"}}` (the Bot
    Connector's and Graph's shape), or `{"message"}` (the Bot Connector's 401)."""
    data = json_object(answer)
    error = data.get("error")
    if isinstance(error, dict):
        words = [str(error[key]) for key in ("code", "message") if error.get(key)]
        if words:
            return ": ".join(words)[:EXCERPT_CHARS]
    if isinstance(data.get("message"), str):
        return str(data["message"])[:EXCERPT_CHARS]
    return _excerpt(answer)


def _excerpt(answer: httpx.Response) -> str:
    return " ".join(answer.text.split())[:EXCERPT_CHARS] or answer.reason_phrase


def _retry_after(answer: httpx.Response) -> float | None:
    """Retry-After in seconds (the services do not send the HTTP-date form)."""
    try:
        seconds = float(answer.headers.get("Retry-After", ""))
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds > 0 else None
