"""A fake Bot Connector (and the slice of Microsoft Graph warroom uses, in
tests.support.fake_graph), served
over real HTTP on 127.0.0.1 from a background thread.

Inbound test activities carry `FakeBotConnector.service_url` as their `serviceUrl`; the
app's replies then land here. Tests drive the app, then assert on `calls`, on what the
conversations hold (`threads()`, `activities_in()`, `last_card()`) and that `violations`
stayed empty. Every activity is checked the way Teams checks it (a message, at most
28 KB, mentions whose text is in the message, Adaptive Cards that validate), and a
request it would refuse is answered 400 here too and listed in `violations`.

Channels are seeded (`add_channel`), as are the chats inbound activities come from
(`add_chat`); a thread of a seeded channel exists as soon as a call names it, since its
root may be a person's post, which the fake never sees.

Failure plans (`fail`, `rate_limit`, `lose_answer`, `hang`) apply per kind of call, in
the order given, before any check or effect: a failed call changes nothing. The kinds
are "create" (a channel thread), "personal" (a 1:1 chat), "send", "update", "delete",
and Graph's (`GRAPH_KINDS`).
"""

from __future__ import annotations

import asyncio
import copy
import importlib
import itertools
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.fake_graph import GRAPH_KINDS, FakeFile, FakeGraph, GraphRoute
from tests.support.fake_graph import route as graph_route
from tests.support.served import ServedApp

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
MAX_ACTIVITY_BYTES = 28 * 1024
KINDS = ("create", "personal", "send", "update", "delete", *GRAPH_KINDS)
SERVICE_PATH = "/amer/"  # real service URLs have a region segment and end in '/'
GRAPH_PATH = "/v1.0"
THREAD_MARKER = ";messageid="
# Characters of a conversation id that a client must percent-encode in the path.
MUST_ENCODE = frozenset(":;@=")
KEEP_ALIVE_SECONDS = 75

CardCheck = Callable[[dict[str, Any]], list[str]]
TokenCheck = Callable[[str], bool]
_Answer = tuple[int, Any]


@dataclass
class ConnectorCall:
    method: str
    path: str  # as sent, percent-encoding and all
    kind: str  # one of KINDS, or "unknown"
    conversation_id: str | None
    body: Any
    authorization: str | None  # the header as sent (None: there was none)
    status: int = 0  # 0 while the answer is still pending (a `hang` plan)
    response: Any = None
    received_at: float = field(default_factory=time.monotonic)


@dataclass
class FakeActivity:
    id: str
    conversation_id: str
    body: dict[str, Any]
    from_bot: bool = True
    reply_to: str | None = None
    deleted: bool = False
    earlier: list[dict[str, Any]] = field(default_factory=list)  # bodies before each update


@dataclass
class FakeConversation:
    id: str
    kind: str  # channel | thread | personal | chat (a group chat)
    team_id: str | None = None
    channel_id: str | None = None  # a thread's channel
    user_id: str | None = None  # a personal chat's person
    name: str | None = None  # a channel's
    activities: list[FakeActivity] = field(default_factory=list)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class FakeThread:
    conversation_id: str
    channel_id: str
    # `deleted` if it was (Teams keeps the thread); from a person, with an empty body, for
    # a thread the fake did not see start.
    root: FakeActivity


@dataclass(frozen=True)
class _Route:
    kind: str  # one of KINDS, or "unknown"
    conversation_id: str | None = None
    activity_id: str | None = None  # updated, deleted, or replied to
    graph: GraphRoute | None = None


@dataclass
class _Plan:
    kind: str  # fail | rate_limit | lose | hang
    times: int
    status: int = 0
    retry_after: float | None = None
    seconds: float = 0.0


def _error(status: int, code: str, message: str) -> _Answer:
    return status, {"error": {"code": code, "message": message}}


class FakeBotConnector:
    """`accept(token)` says whether a bearer token is good (None: anonymous, no header
    needed); Graph's tokens are checked by `accept_graph` (default: `accept`).
    `validate_card(card)` lists an Adaptive Card's problems; by default the schema check
    of tests/support/adaptive_cards.py, when that module exists."""

    def __init__(
        self,
        *,
        accept: TokenCheck | None = None,
        accept_graph: TokenCheck | None = None,
        validate_card: CardCheck | None = None,
        bot_id: str | None = None,
        tenant_id: str | None = None,
    ) -> None:
        self._accept, self._accept_graph = accept, accept_graph or accept
        self._card_check = validate_card
        self.bot_id, self.tenant_id = bot_id, tenant_id
        self.base_url = self.service_url = self.graph_url = ""
        self._lock = threading.RLock()  # the server thread writes while the test thread reads
        self._served = ServedApp("fake Bot Connector")
        self.reset()

    # lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        app = Starlette(
            routes=[Route("/{rest:path}", self._handle, methods=["GET", "POST", "PUT", "DELETE"])]
        )
        self.base_url = self._served.start(app, keep_alive=KEEP_ALIVE_SECONDS)
        self.service_url, self.graph_url = self.base_url + SERVICE_PATH, self.base_url + GRAPH_PATH

    def stop(self) -> None:
        self._served.stop()

    def __enter__(self) -> FakeBotConnector:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget calls, violations, plans, conversations and teams."""
        with self._lock:
            self._calls: list[ConnectorCall] = []
            self._violations: list[str] = []
            self._plans: dict[str, deque[_Plan]] = {}
            self._conversations: dict[str, FakeConversation] = {}
            self._teams: set[str] = set()
            self.graph = FakeGraph(self)
            # Channel post ids are milliseconds since the epoch in Teams.
            self._ids = itertools.count(1_700_000_000_000)

    # seeding and reading ---------------------------------------------------------------

    def add_channel(self, *, channel_id: str, team_id: str, name: str | None = None) -> None:
        with self._lock:
            self._teams.add(team_id)
            channel = FakeConversation(channel_id, "channel", team_id=team_id, name=name)
            self._conversations[channel_id] = channel

    def add_post(self, *, channel_id: str, body: dict[str, Any]) -> str:
        """A person's post in a channel, starting a thread: the thread's conversation id,
        as the inbound activity for that post carries it."""
        with self._lock:
            return self._start_thread(self._conversations[channel_id], body, from_bot=False)

    def add_chat(self, *, user_id: str | None = None, conversation_id: str | None = None) -> str:
        """A chat the bot is in, as inbound test activities name it: 1:1 with `user_id`,
        or a group chat without one. Its conversation id."""
        with self._lock:
            chat_id = conversation_id or (f"a:1{uuid.uuid4().hex}" if user_id else None)
            chat_id = chat_id or f"19:{uuid.uuid4().hex}@thread.v2"
            kind = "personal" if user_id else "chat"
            self._conversations[chat_id] = FakeConversation(chat_id, kind, user_id=user_id)
            return chat_id

    @property
    def calls(self) -> list[ConnectorCall]:
        with self._lock:
            return copy.deepcopy(self._calls)

    def calls_to(self, kind: str) -> list[ConnectorCall]:
        return [call for call in self.calls if call.kind == kind]

    @property
    def violations(self) -> list[str]:
        with self._lock:
            return list(self._violations)

    def threads(self) -> list[FakeThread]:
        """Every thread, oldest first, with its root post as it is now."""
        with self._lock:
            return [
                FakeThread(c.id, c.channel_id or "", copy.deepcopy(c.activities[0]))
                for c in self._conversations.values()
                if c.kind == "thread"
            ]

    def activities_in(self, conversation_id: str) -> list[FakeActivity]:
        """The posts of a conversation not deleted, as they are now, in the order posted."""
        with self._lock:
            conversation = self._conversations.get(conversation_id)
            posts = conversation.activities if conversation else []
            return [copy.deepcopy(post) for post in posts if not post.deleted]

    def last_card(self, conversation_id: str) -> dict[str, Any] | None:
        """The Adaptive Card of the latest post in the conversation that has one."""
        for post in reversed(self.activities_in(conversation_id)):
            for attachment in post.body.get("attachments") or []:
                if attachment.get("contentType") == CARD_CONTENT_TYPE:
                    return dict(attachment["content"])
        return None

    def personal_chat_with(self, user_id: str) -> str | None:
        with self._lock:
            chats = self._conversations.values()
            return next((c.id for c in chats if c.user_id == user_id), None)

    def files_in(self, channel_id: str) -> list[FakeFile]:
        """The files in a channel's folder (Graph), as they are now."""
        with self._lock:
            return copy.deepcopy(self.graph.files_in(channel_id))

    def channel_named(self, team_id: str, name: str) -> str | None:
        with self._lock:
            return next((c.id for c in self._channels_of(team_id) if _same(c.name, name)), None)

    # failure plans ---------------------------------------------------------------------

    def fail(self, kind: str, *, status: int = 500, times: int = 1) -> None:
        self._add_plan(kind, _Plan("fail", times, status=status))

    def rate_limit(self, kind: str, *, retry_after: float | None = 1, times: int = 1) -> None:
        """Answer 429, with a Retry-After unless `retry_after` is None."""
        self._add_plan(kind, _Plan("rate_limit", times, status=429, retry_after=retry_after))

    def lose_answer(self, kind: str, *, status: int = 502, times: int = 1) -> None:
        """Carry the call out, then answer `status` as if it had not been."""
        self._add_plan(kind, _Plan("lose", times, status=status))

    def hang(self, kind: str, *, seconds: float, times: int = 1) -> None:
        """Answer after `seconds`, and carry the call out then even if the caller has gone."""
        self._add_plan(kind, _Plan("hang", times, seconds=seconds))

    def reset_failures(self) -> None:
        with self._lock:
            self._plans = {}

    def _add_plan(self, kind: str, plan: _Plan) -> None:
        if kind not in KINDS:
            raise ValueError(f"no such kind of call: {kind!r} (one of {', '.join(KINDS)})")
        with self._lock:
            self._plans.setdefault(kind, deque()).append(plan)

    def _take_plan(self, kind: str) -> _Plan | None:
        with self._lock:
            plans = self._plans.get(kind)
            if not plans:
                return None
            plan = plans[0]
            plan.times -= 1
            if plan.times <= 0:
                plans.popleft()
            return plan

    # HTTP ------------------------------------------------------------------------------

    async def _handle(self, request: Request) -> Response:
        raw_path = request.scope.get("raw_path", b"").decode() or request.url.path
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        route = self._route(request.method, raw_path, body)
        authorization = request.headers.get("authorization")
        query = f"?{request.url.query}" if request.url.query else ""
        call = ConnectorCall(
            request.method, raw_path + query, route.kind, route.conversation_id, body, authorization
        )
        with self._lock:
            self._calls.append(call)
        plan, headers = self._take_plan(route.kind), {}
        if plan is not None and plan.kind == "hang":
            # Carried out whether or not the caller is still waiting, as Teams would.
            await asyncio.sleep(plan.seconds)
            plan = None
        if plan is not None and plan.kind in ("fail", "rate_limit"):
            status, answer = _error(plan.status, "ServiceError", "failure planned by the test")
            if plan.retry_after is not None:
                headers["Retry-After"] = f"{plan.retry_after:g}"
        else:
            with self._lock:
                status, answer = self._carry_out(request, route, body, raw)
            if plan is not None:  # a lost answer: done, but the caller hears an error page
                status, answer = plan.status, {"message": "Bad Gateway"}
        with self._lock:
            call.status, call.response = status, copy.deepcopy(answer)
        if answer is None:
            return Response(status_code=status, headers=headers)
        return JSONResponse(answer, status_code=status, headers=headers)

    def _route(self, method: str, raw_path: str, body: Any) -> _Route:
        raw = raw_path.strip("/").split("/")
        segments = [unquote(segment) for segment in raw]
        service = SERVICE_PATH.strip("/").split("/")
        if segments[: len(service) + 2] == [*service, "v3", "conversations"]:
            rest, raw_rest = segments[len(service) + 2 :], raw[len(service) + 2 :]
            if not rest and method == "POST":
                group = isinstance(body, dict) and body.get("isGroup") is True
                return _Route("create" if group else "personal")
            if len(rest) in (2, 3) and rest[1] == "activities":
                if MUST_ENCODE & set(raw_rest[0]):
                    self._violate(f"{method} {raw_path}: the conversation id is not encoded")
                activity_id = rest[2] if len(rest) == 3 else None
                kind = {"POST": "send", "PUT": "update", "DELETE": "delete"}.get(method)
                if kind is not None and (kind == "send" or activity_id is not None):
                    return _Route(kind, conversation_id=rest[0], activity_id=activity_id)
        graph = graph_route(method, segments)
        if graph is not None:
            return _Route(graph.kind, graph=graph)
        return _Route("unknown")

    def _carry_out(self, request: Request, route: _Route, body: Any, raw: bytes) -> _Answer:
        graph = route.kind.startswith("graph_")
        accept = self._accept_graph if graph else self._accept
        refusal = _authorization_refusal(request.headers.get("authorization"), accept)
        if refusal is not None:
            return refusal
        if route.kind == "unknown":
            self._violate(f"{request.method} {request.url.path}: no such call")
            return _error(404, "NotFound", "no such resource")
        if route.graph is not None:
            answer, problems = self.graph.carry_out(
                route.graph,
                body=body,
                raw=raw,
                media_type=request.headers.get("content-type", ""),
                where=request.query_params.get("$filter"),
            )
            for problem in problems:
                self._violate(problem)
            return answer
        if request.method != "DELETE" and not isinstance(body, dict):
            return self._refuse(route.kind, ["the body must be a JSON object"])
        if route.kind == "create":
            return self._create_thread(body)
        if route.kind == "personal":
            return self._create_personal(body)
        conversation_id = route.conversation_id or ""
        if route.kind == "send":
            return self._send(conversation_id, body, route.activity_id)
        return self._edit(route.kind, conversation_id, route.activity_id or "", body)

    # Bot Connector ---------------------------------------------------------------------

    def _create_thread(self, body: dict[str, Any]) -> _Answer:
        problems = self._addressing_problems(body)
        if "members" in body:
            problems.append("a channel thread takes no members")
        channel_data = body.get("channelData")
        channel = channel_data.get("channel") if isinstance(channel_data, dict) else None
        channel_id = channel.get("id") if isinstance(channel, dict) else None
        if not isinstance(channel_id, str):
            problems.append("channelData.channel.id is missing")
        problems += self._activity_problems(body.get("activity"))
        if problems:
            return self._refuse("create", problems)
        conversation = self._conversations.get(str(channel_id))
        if conversation is None or conversation.kind != "channel":
            return _error(404, "ConversationNotFound", "Conversation not found.")
        thread_id = self._start_thread(conversation, body["activity"], from_bot=True)
        return 201, {"id": thread_id, "activityId": thread_id.rpartition(THREAD_MARKER)[2]}

    def _start_thread(
        self, channel: FakeConversation, body: dict[str, Any], *, from_bot: bool
    ) -> str:
        root = str(next(self._ids))
        thread = FakeConversation(
            channel.id + THREAD_MARKER + root, "thread", channel.team_id, channel_id=channel.id
        )
        thread.activities.append(FakeActivity(root, thread.id, copy.deepcopy(body), from_bot))
        self._conversations[thread.id] = thread
        return thread.id

    def _create_personal(self, body: dict[str, Any]) -> _Answer:
        problems = self._addressing_problems(body)
        members = body.get("members")
        one = members[0] if isinstance(members, list) and len(members) == 1 else None
        user_id = one.get("id") if isinstance(one, dict) else None
        if not isinstance(user_id, str) or not user_id:
            problems.append("a personal chat takes exactly one member, with an id")
        if problems:
            return self._refuse("personal", problems)
        existing = self.personal_chat_with(str(user_id))
        return 201, {"id": existing or self.add_chat(user_id=str(user_id))}

    def _send(self, conversation_id: str, body: dict[str, Any], reply_to: str | None) -> _Answer:
        conversation = self._conversation(conversation_id)
        if conversation is None:
            return _error(404, "ConversationNotFound", "Conversation not found.")
        problems = self._activity_problems(body)
        if problems:
            return self._refuse("send", problems)
        if conversation.kind == "channel":  # a post to the channel itself starts a thread
            thread_id = self._start_thread(conversation, body, from_bot=True)
            return 201, {"id": thread_id.rpartition(THREAD_MARKER)[2]}
        # Not checked: the post replied to may be a person's, which the fake never saw.
        post = FakeActivity(str(next(self._ids)), conversation.id, copy.deepcopy(body))
        post.reply_to = reply_to
        conversation.activities.append(post)
        return 201, {"id": post.id}

    def _edit(self, kind: str, conversation_id: str, activity_id: str, body: Any) -> _Answer:
        conversation = self._conversation(conversation_id)
        post = self._find(conversation, activity_id) if conversation else None
        if post is None:
            return _error(404, "ActivityNotFound", "Activity not found.")
        if not post.from_bot:
            return _error(403, "Forbidden", "The bot can only change its own posts.")
        if kind == "delete":
            post.deleted = True
            return 200, None
        problems = self._activity_problems(body)
        if body.get("id", activity_id) != activity_id:
            problems.append(f"the body's id {body.get('id')!r} is not {activity_id!r}")
        if problems:
            return self._refuse("update", problems)
        post.earlier.append(post.body)
        post.body = copy.deepcopy(body)
        return 200, {"id": activity_id}

    def _conversation(self, conversation_id: str) -> FakeConversation | None:
        """A thread of a known channel is taken to exist even if the fake did not see it
        start: its root may be a person's post, the one an inbound test activity is about."""
        known = self._conversations.get(conversation_id)
        channel_id, marker, root = conversation_id.partition(THREAD_MARKER)
        channel = self._conversations.get(channel_id)
        if known is not None or not (marker and root and channel and channel.kind == "channel"):
            return known
        thread = FakeConversation(conversation_id, "thread", channel.team_id, channel_id)
        thread.activities.append(FakeActivity(root, conversation_id, {}, from_bot=False))
        self._conversations[conversation_id] = thread
        return thread

    def _find(self, conversation: FakeConversation, activity_id: str) -> FakeActivity | None:
        return next(
            (a for a in conversation.activities if a.id == activity_id and not a.deleted), None
        )

    def _addressing_problems(self, body: dict[str, Any]) -> list[str]:
        problems = []
        bot = body.get("bot")
        if self.bot_id and isinstance(bot, dict) and bot.get("id") != "28:" + self.bot_id:
            problems.append(f"bot.id {bot.get('id')!r} is not 28:{self.bot_id}")
        if self.tenant_id and body.get("tenantId", self.tenant_id) != self.tenant_id:
            problems.append(f"tenantId {body.get('tenantId')!r} is not {self.tenant_id}")
        return problems

    def _activity_problems(self, activity: Any) -> list[str]:
        if not isinstance(activity, dict):
            return ["the activity must be a JSON object"]
        problems = []
        if activity.get("type") != "message":
            problems.append(f"type must be 'message', not {activity.get('type')!r}")
        size = len(json.dumps(activity, separators=(",", ":"), ensure_ascii=False).encode())
        if size > MAX_ACTIVITY_BYTES:
            problems.append(f"the activity is {size} bytes, over Teams's {MAX_ACTIVITY_BYTES}")
        text, attachments = activity.get("text") or "", activity.get("attachments") or []
        if not text and not attachments:
            problems.append("neither text nor attachments: an empty message")
        for index, attachment in enumerate(
            attachments if isinstance(attachments, list) else [None]
        ):
            problems += [
                f"attachments[{index}]: {p}" for p in self._attachment_problems(attachment)
            ]
        for entity in activity.get("entities") or []:
            if isinstance(entity, dict) and entity.get("type") == "mention":
                mentioned = entity.get("mentioned")
                if not isinstance(mentioned, dict) or not mentioned.get("id"):
                    problems.append(f"mention {entity.get('text')!r} names no one (mentioned.id)")
                if not entity.get("text") or str(entity.get("text")) not in text:
                    problems.append(f"mention {entity.get('text')!r} does not occur in the text")
        return problems

    def _attachment_problems(self, attachment: Any) -> list[str]:
        if not isinstance(attachment, dict) or not isinstance(attachment.get("contentType"), str):
            return ["an attachment must be an object with a contentType"]
        if attachment["contentType"] != CARD_CONTENT_TYPE:
            return []
        card = attachment.get("content")
        if not isinstance(card, dict):
            return ["an Adaptive Card's content must be a JSON object"]
        return list(self._cards()(card))

    def _cards(self) -> CardCheck:
        if self._card_check is None:
            # Looked up on first use: the schema check is a separate module, and optional.
            try:
                module = importlib.import_module("tests.support.adaptive_cards")
                self._card_check = module.card_problems
            except ModuleNotFoundError as error:
                if error.name != "tests.support.adaptive_cards":
                    raise
                self._card_check = lambda card: []
        return self._card_check

    # Graph (tests.support.fake_graph) ------------------------------------------------

    def has_team(self, team_id: str) -> bool:
        return team_id in self._teams

    def team_channels(self, team_id: str) -> list[tuple[str, str | None, datetime]]:
        return [(c.id, c.name, c.created_at) for c in self._channels_of(team_id)]

    def _channels_of(self, team_id: str) -> list[FakeConversation]:
        return [
            c for c in self._conversations.values() if c.kind == "channel" and c.team_id == team_id
        ]

    def _refuse(self, kind: str, problems: list[str], code: str = "BadArgument") -> _Answer:
        for problem in problems:
            self._violate(f"{kind}: {problem}")
        return _error(400, code, "; ".join(problems))

    def _violate(self, violation: str) -> None:
        with self._lock:
            self._violations.append(violation)


def _authorization_refusal(header: str | None, accept: TokenCheck | None) -> _Answer | None:
    if accept is None:
        return None
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() == "bearer" and token and accept(token):
        return None
    return 401, {"message": "Authorization has been denied for this request."}


def _same(name: str | None, other: str) -> bool:
    """Teams compares channel names without case."""
    return name is not None and name.casefold() == other.casefold()
