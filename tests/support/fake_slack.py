"""A fake Slack: Web API, response_url and Socket Mode, checked against Slack's own specs.

Tests point the app at `FakeSlack.api_url`, drive it, then assert on `calls`, on the workspace
state (`channels`) and that `violations` stayed empty. Every request is checked against the
method specs and the Block Kit schema (see `fake_slack_validation`), so a call real Slack would
refuse fails here too, and is listed in `violations` even when the app swallows the error.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import copy
import json
import random
import re
import socket
import string
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from .fake_slack_validation import (
    MAX_TEXT_CHARS,
    Problem,
    load_specs,
    read_request,
    token_problems,
    truthy,
)

ACK_DEADLINE_SECONDS = 3.0  # slash commands, interactions and events must be acked in 3 s
TRIGGER_TTL_SECONDS = 3.0
RESPONSE_URL_USES = 5
_ID_CHARS = string.ascii_uppercase + string.digits
_CHANNEL_NAME = re.compile(r"[a-z0-9_-]+")
_USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")
_T = TypeVar("_T")


@dataclass
class SlackCall:
    method: str
    args: dict[str, Any]
    token: str | None
    status: int = 0  # 0 while the answer is still pending (a `hang` plan)
    response: dict[str, Any] = field(default_factory=dict)


@dataclass
class FakeChannel:
    id: str
    name: str
    is_private: bool = False
    creator: str = ""
    members: set[str] = field(default_factory=set)
    messages: list[dict[str, Any]] = field(default_factory=list)  # oldest first
    pins: set[str] = field(default_factory=set)  # message ts
    created: int = field(default_factory=lambda: int(time.time()))
    is_archived: bool = False
    is_im: bool = False
    topic: str = ""
    purpose: str = ""
    ephemeral: list[dict[str, Any]] = field(default_factory=list)

    def message(self, ts: Any) -> dict[str, Any] | None:
        return next((m for m in self.messages if m["ts"] == ts), None)


@dataclass
class _Plan:
    kind: str  # fail | rate_limit | error | hang
    times: int
    status: int = 200
    error: str = ""
    retry_after: int = 0
    seconds: float = 0.0


@dataclass
class _Pending:
    future: asyncio.Future[dict[str, Any]]
    kind: str
    sent_at: float


class _SlackError(Exception):
    """A handler's refusal, answered as HTTP 200 {"ok": false, "error": ...}."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


_Handler = Callable[["FakeSlack", dict[str, Any]], dict[str, Any]]
_HANDLERS: dict[str, _Handler] = {}


def _handles(*methods: str) -> Callable[[_Handler], _Handler]:
    def register(handler: _Handler) -> _Handler:
        _HANDLERS.update(dict.fromkeys(methods, handler))
        return handler

    return register


class FakeSlack:
    """One fake workspace served on 127.0.0.1 from a background thread.

    Failure plans (`fail`, `rate_limit`, `error`, `hang`) apply per method, in the order
    given, before any check or effect: a failed call changes nothing. `reset()` forgets
    calls, violations, plans and state, then re-creates `seed_channels` (public, bot inside).
    """

    def __init__(
        self,
        specs_dir: Path,
        *,
        team_id: str = "T0WARROOM",
        bot_user_id: str = "U0WARBOT",
        seed_channels: Iterable[str] = (),
        validate: bool = True,
    ) -> None:
        self._specs = load_specs(Path(specs_dir))
        # Benchmarks turn schema checks off: the real Slack would not spend our CPU on them.
        self.validate = validate
        self.team_id, self.bot_user_id = team_id, bot_user_id
        self.bot_id, self.app_id, self.team_domain = "B" + bot_user_id[1:], "A0WARROOM", "warroom"
        self.base_url = self.api_url = ""
        self.socket_connected = threading.Event()
        self._seed_channels = tuple(seed_channels)  # public, bot inside; re-created by reset()
        self._lock = threading.RLock()  # the server thread writes while the test thread reads
        self._rng = random.Random(0)  # ids repeat from run to run, easing debugging
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sockets: list[WebSocket] = []
        self._pending: dict[str, _Pending] = {}
        self.reset()

    # lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self.api_url = self.base_url + "/api/"
        config = uvicorn.Config(
            self._build_app(), log_level="warning", lifespan="off", timeout_graceful_shutdown=1
        )
        server = self._server = uvicorn.Server(config)
        loop = self._loop = asyncio.new_event_loop()

        def serve() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(server.serve(sockets=[sock]))
            loop.close()

        self._thread = threading.Thread(target=serve, name="fake-slack", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the fake Slack server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server = self._thread = self._loop = None
        self.socket_connected.clear()

    def __enter__(self) -> FakeSlack:
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
        with self._lock:
            self._calls: list[SlackCall] = []
            self._violations: list[str] = []
            self._plans: dict[str, deque[_Plan]] = {}
            self._responses: dict[str, list[dict[str, Any]]] = {}
            self._channels: dict[str, FakeChannel] = {}
            self._views: dict[str, dict[str, Any]] = {}
            self._triggers: dict[str, float | None] = {}  # id -> issue time, None once used
            self._ids: set[str] = set()
            self._last_ts = 0
            for name in self._seed_channels:
                self.add_channel(name, members=[self.bot_user_id])

    # what the tests read ---------------------------------------------------------------

    @property
    def calls(self) -> list[SlackCall]:
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[SlackCall]:
        return [call for call in self.calls if call.method == method]

    @property
    def violations(self) -> list[str]:
        with self._lock:
            return list(self._violations)

    @property
    def channels(self) -> dict[str, FakeChannel]:
        with self._lock:
            return dict(self._channels)

    def channel_named(self, name: str) -> FakeChannel | None:
        with self._lock:
            return next((c for c in self._channels.values() if c.name == name), None)

    @property
    def responses(self) -> dict[str, list[dict[str, Any]]]:
        with self._lock:
            return {url: list(bodies) for url, bodies in self._responses.items()}

    def responses_to(self, url: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._responses.get(url, []))

    # what the tests set up -------------------------------------------------------------

    def add_channel(
        self,
        name: str,
        *,
        channel_id: str | None = None,
        is_private: bool = False,
        members: Iterable[str] = (),
    ) -> str:
        with self._lock:
            if self.channel_named(name) is not None or channel_id in self._channels:
                raise ValueError(f"channel #{name} ({channel_id}) already exists")
            channel_id = channel_id or self._new_id("C")
            self._ids.add(channel_id)
            channel = FakeChannel(channel_id, name, is_private, members=set(members))
            self._channels[channel_id] = channel
            return channel_id

    def response_url(self) -> str:
        if not self.base_url:
            raise RuntimeError("start() the fake Slack before handing out response URLs")
        url = f"{self.base_url}/respond/{uuid.uuid4()}"
        with self._lock:
            self._responses[url] = []
        return url

    def trigger_id(self) -> str:
        """A trigger_id that, like Slack's, opens one view within 3 s of being issued."""
        with self._lock:
            trigger = f"{int(time.time())}.{self._rng.randrange(10**12)}.{uuid.uuid4().hex}"
            self._triggers[trigger] = time.monotonic()
        return trigger

    def fail(self, method: str, *, status: int = 500, times: int = 1) -> None:
        self._add_plan(method, _Plan("fail", times, status=status, error="fatal_error"))

    def rate_limit(self, method: str, *, retry_after: int = 1, times: int = 1) -> None:
        plan = _Plan("rate_limit", times, status=429, error="ratelimited", retry_after=retry_after)
        self._add_plan(method, plan)

    def error(self, method: str, error: str, *, times: int = 1) -> None:
        if method in self._specs.methods and error not in self._specs.errors_of(method):
            raise ValueError(f"{method} never answers {error!r} according to its spec")
        self._add_plan(method, _Plan("error", times, error=error))

    def hang(self, method: str, *, seconds: float, times: int = 1) -> None:
        self._add_plan(method, _Plan("hang", times, seconds=seconds))

    def reset_failures(self) -> None:
        """Drop every failure plan not yet used up: Slack is healthy again."""
        with self._lock:
            self._plans = {}

    def _add_plan(self, method: str, plan: _Plan) -> None:
        with self._lock:
            self._plans.setdefault(method, deque()).append(plan)

    def _take_plan(self, method: str) -> _Plan | None:
        with self._lock:
            plans = self._plans.get(method)
            if not plans:
                return None
            plans[0].times -= 1
            return plans[0] if plans[0].times > 0 else plans.popleft()

    # Socket Mode -----------------------------------------------------------------------

    def socket_request(
        self, envelope_type: str, payload: dict[str, Any], *, timeout: float = 5
    ) -> dict[str, Any]:
        """Send an envelope to the connected client and wait for its ack (from a sync thread)."""
        return self._schedule(envelope_type, payload, timeout).result(timeout + 5)

    async def socket_request_async(
        self,
        envelope_type: str,
        payload: dict[str, Any],
        *,
        timeout: float = 5,  # noqa: ASYNC109 - mirrors socket_request; also drives the violation
    ) -> dict[str, Any]:
        """Same, awaitable: an app running on the test's own loop must not be blocked."""
        return await asyncio.wrap_future(self._schedule(envelope_type, payload, timeout))

    def socket_disconnect(self, reason: str = "refresh_requested") -> None:
        """Ask connected clients to reconnect, as Slack does every few hours."""
        message = {"type": "disconnect", "reason": reason, "debug_info": {"host": "fake-slack"}}
        if self._loop is None:
            raise RuntimeError("the fake Slack server is not running")

        async def send() -> None:
            # Told to go, a connection only drains: new envelopes wait for the next one.
            leaving, self._sockets[:] = list(self._sockets), []
            self.socket_connected.clear()
            for ws in leaving:
                await ws.send_text(json.dumps(message))

        asyncio.run_coroutine_threadsafe(send(), self._loop).result(5)

    def _schedule(
        self, kind: str, payload: dict[str, Any], wait_seconds: float
    ) -> concurrent.futures.Future[dict[str, Any]]:
        if self._loop is None:
            raise RuntimeError("the fake Slack server is not running")
        return asyncio.run_coroutine_threadsafe(
            self._send_envelope(kind, payload, wait_seconds), self._loop
        )

    async def _send_envelope(
        self, kind: str, payload: dict[str, Any], wait_seconds: float
    ) -> dict[str, Any]:
        if not self._sockets:
            raise ConnectionError("no Socket Mode client is connected")
        envelope_id = str(uuid.uuid4())
        envelope: dict[str, Any] = {"envelope_id": envelope_id, "type": kind, "payload": payload}
        envelope |= {"accepts_response_payload": True, "retry_attempt": 0, "retry_reason": ""}
        future = asyncio.get_running_loop().create_future()
        self._pending[envelope_id] = _Pending(future, kind, time.monotonic())
        try:
            await self._sockets[-1].send_text(json.dumps(envelope))
            return await asyncio.wait_for(future, wait_seconds)
        except TimeoutError:
            self._violate(f"socket mode: {kind} envelope not acked within {wait_seconds}s")
            raise
        finally:
            self._pending.pop(envelope_id, None)

    async def _socket(self, ws: WebSocket) -> None:
        await ws.accept()
        hello = {"type": "hello", "num_connections": len(self._sockets) + 1}
        hello |= {"debug_info": {"host": "fake-slack", "approximate_connection_time": 3600}}
        await ws.send_text(json.dumps(hello | {"connection_info": {"app_id": self.app_id}}))
        self._sockets.append(ws)
        self.socket_connected.set()
        try:
            while True:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                self._on_ack(message.get("text") or (message.get("bytes") or b"").decode())
        finally:
            if ws in self._sockets:
                self._sockets.remove(ws)
            if not self._sockets:
                self.socket_connected.clear()

    def _on_ack(self, raw: str) -> None:
        try:
            ack = json.loads(raw)
        except ValueError:
            ack = None
        pending = self._pending.get(ack.get("envelope_id", "")) if isinstance(ack, dict) else None
        if not isinstance(ack, dict) or pending is None or pending.future.done():
            self._violate(f"socket mode: unexpected message {raw[:200]!r}")
            return
        elapsed = time.monotonic() - pending.sent_at
        if elapsed > ACK_DEADLINE_SECONDS:
            self._violate(f"socket mode: {pending.kind} acked after {elapsed:.1f}s (limit 3s)")
        for problem in self._ack_problems(pending.kind, ack.get("payload")):
            self._violate(f"socket mode: {pending.kind} ack: {problem}")
        pending.future.set_result(ack)

    def _ack_problems(self, kind: str, payload: Any) -> list[str]:
        if payload is None:
            return []
        if not isinstance(payload, dict):
            return ["payload must be a JSON object"]
        if kind == "slash_commands" and ("text" in payload or "blocks" in payload):
            return self._specs.response_url_problems(payload)
        if payload.get("response_action") in ("update", "push"):
            return [p.detail for p in self._specs.view_problems(payload.get("view"), "modal")]
        return []

    # HTTP ------------------------------------------------------------------------------

    def _build_app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/api/{method}", self._web_api, methods=["GET", "POST"]),
                Route("/respond/{key}", self._respond, methods=["POST"]),
                WebSocketRoute("/socket", self._socket),
            ]
        )

    async def _web_api(self, request: Request) -> JSONResponse:
        method = request.path_params["method"]
        args, token, problems = await read_request(request)
        call = SlackCall(method, args, token)
        with self._lock:
            self._calls.append(call)
        plan, headers = self._take_plan(method), {}
        if plan is not None and plan.kind == "hang":
            await asyncio.sleep(plan.seconds)
            plan = None
        if plan is None:
            status, body = 200, self._answer(method, args, token, problems)
        else:
            status, body = plan.status, {"ok": False, "error": plan.error}
            if plan.kind == "rate_limit":
                headers["Retry-After"] = str(plan.retry_after)
        with self._lock:
            call.status, call.response = status, copy.deepcopy(body)
        return JSONResponse(body, status_code=status, headers=headers)

    def _answer(
        self, method: str, args: dict[str, Any], token: str | None, problems: list[Problem]
    ) -> dict[str, Any]:
        if method not in self._specs.methods:
            problems = [Problem("unknown_method", "no such Web API method")]
        else:
            checked = self._specs.call_problems(method, args) if self.validate else []
            problems = token_problems(method, token) or [*problems, *checked]
            if args.get("team_id", self.team_id) != self.team_id:
                detail = f"team_id {args['team_id']!r} is not this workspace ({self.team_id})"
                problems.append(Problem("team_access_not_granted", detail))
        for problem in problems:
            self._violate(f"{method}: {problem.detail}")
        refusal = next((p.error for p in problems if p.error), None)
        if refusal is not None:
            messages = [f"[ERROR] {p.detail}" for p in problems]
            return {"ok": False, "error": refusal, "response_metadata": {"messages": messages}}
        handler = _HANDLERS.get(method)
        if handler is None:
            return {"ok": True}
        with self._lock:
            try:
                return handler(self, args)
            except _SlackError as exc:
                return {"ok": False, "error": exc.error}

    async def _respond(self, request: Request) -> JSONResponse:
        url = f"{self.base_url}/respond/{request.path_params['key']}"
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        with self._lock:
            posted = self._responses.get(url)
            if posted is None:
                self._violate(f"response_url: POST to an URL never handed out: {url}")
                return JSONResponse({"ok": False, "error": "no_such_url"}, status_code=404)
            problems = self._specs.response_url_problems(body)
            if len(posted) >= RESPONSE_URL_USES:
                problems.append(f"used more than {RESPONSE_URL_USES} times")
            for problem in problems:
                self._violate(f"response_url: {problem}")
            if isinstance(body, dict):
                posted.append(body)
        if len(posted) > RESPONSE_URL_USES:
            return JSONResponse({"ok": False, "error": "used_url"}, status_code=404)
        return JSONResponse({"ok": True})

    def _violate(self, violation: str) -> None:
        with self._lock:
            self._violations.append(violation)

    # workspace state helpers (called with the lock held) ---------------------------------

    def _new_id(self, prefix: str) -> str:
        while (new := prefix + "".join(self._rng.choices(_ID_CHARS, k=10))) in self._ids:
            pass
        self._ids.add(new)
        return new

    def _next_ts(self) -> str:
        # Real time, so apps can read times from ts; +1 µs keeps it strictly increasing.
        self._last_ts = max(time.time_ns() // 1000, self._last_ts + 1)
        return f"{self._last_ts // 1_000_000}.{self._last_ts % 1_000_000:06d}"

    def _channel(self, ref: Any) -> FakeChannel:
        ref = str(ref)
        if _USER_ID.fullmatch(ref):
            return self._dm(ref)  # posting to a user id lands in the DM with the app
        channel = self._channels.get(ref) or self.channel_named(ref.removeprefix("#"))
        if channel is None:
            raise _SlackError("channel_not_found")
        return channel

    def _visible_channel(self, ref: Any) -> FakeChannel:
        # A private channel the bot is not in does not exist as far as the bot can tell.
        channel = self._channel(ref)
        if channel.is_private and self.bot_user_id not in channel.members:
            raise _SlackError("channel_not_found")
        return channel

    def _dm(self, user: str) -> FakeChannel:
        members = {self.bot_user_id, user}
        for channel in self._channels.values():
            if channel.is_im and channel.members == members:
                return channel
        dm = FakeChannel(self._new_id("D"), user, True, self.bot_user_id, members, is_im=True)
        self._channels[dm.id] = dm
        return dm

    def _channel_json(self, ch: FakeChannel) -> dict[str, Any]:
        if ch.is_im:
            return {"id": ch.id, "created": ch.created, "is_im": True, "user": ch.name}
        topic = {"value": ch.topic, "creator": ch.creator if ch.topic else "", "last_set": 0}
        purpose = {"value": ch.purpose, "creator": ch.creator if ch.purpose else "", "last_set": 0}
        return {
            "id": ch.id,
            "name": ch.name,
            "name_normalized": ch.name,
            "is_channel": True,
            "is_group": False,
            "is_im": False,
            "is_mpim": False,
            "is_private": ch.is_private,
            "created": ch.created,
            "creator": ch.creator,
            "is_archived": ch.is_archived,
            "is_general": False,
            "is_shared": False,
            "is_ext_shared": False,
            "is_org_shared": False,
            "is_member": self.bot_user_id in ch.members,
            "topic": topic,
            "purpose": purpose,
            "previous_names": [],
        }

    def _message_json(self, ch: FakeChannel, msg: dict[str, Any], metadata: bool) -> dict[str, Any]:
        out = copy.deepcopy(msg)
        if not metadata:
            out.pop("metadata", None)
        if msg["ts"] in ch.pins:
            out["pinned_to"] = [ch.id]
        return out

    def _new_message(self, args: dict[str, Any]) -> dict[str, Any]:
        msg = {"type": "message", "user": self.bot_user_id, "bot_id": self.bot_id}
        msg |= {"app_id": self.app_id, "team": self.team_id, "text": _text(args)}
        msg["ts"] = self._next_ts()
        msg |= {k: args[k] for k in ("blocks", "metadata", "thread_ts", "attachments") if k in args}
        if "thread_ts" in args and truthy(args.get("reply_broadcast")):
            msg["subtype"] = "thread_broadcast"
        return msg

    def _use_trigger(self, trigger: str) -> None:
        if trigger not in self._triggers:
            return  # made up by the test itself: nothing to enforce
        issued, self._triggers[trigger] = self._triggers[trigger], None
        error = "exchanged_trigger_id" if issued is None else ""
        if issued is not None and time.monotonic() - issued > TRIGGER_TTL_SECONDS:
            error = "expired_trigger_id"
        if error:
            self._violate(f"views: trigger_id {error.split('_')[0]} ({trigger})")
            raise _SlackError(error)

    # Web API methods (the lock is held) --------------------------------------------------

    @_handles("auth.test")
    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        url = f"https://{self.team_domain}.slack.com/"
        return {"ok": True, "url": url, "team": "Warroom", "user": "warroom"} | {
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    @_handles("apps.connections.open")
    def _connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": self.base_url.replace("http://", "ws://") + "/socket"}

    @_handles("conversations.create")
    def _create(self, args: dict[str, Any]) -> dict[str, Any]:
        name = str(args.get("name", ""))
        if not name:
            raise _SlackError("invalid_name_required")
        if len(name) > 80:
            raise _SlackError("invalid_name_maxlength")
        if not _CHANNEL_NAME.fullmatch(name):
            raise _SlackError("invalid_name_specials")
        if not name.strip("-_"):
            raise _SlackError("invalid_name_punctuation")
        if self.channel_named(name) is not None:
            raise _SlackError("name_taken")  # archived channels keep their names
        private = truthy(args.get("is_private"))
        channel = self._channels[self.add_channel(name, is_private=private)]
        channel.creator, channel.members = self.bot_user_id, {self.bot_user_id}
        return {"ok": True, "channel": self._channel_json(channel)}

    @_handles("conversations.invite")
    def _invite(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._visible_channel(args["channel"])
        if channel.is_archived:
            raise _SlackError("is_archived")
        if self.bot_user_id not in channel.members:
            raise _SlackError("not_in_channel")
        users = [u.strip() for u in str(args["users"]).split(",") if u.strip()]
        if not users:
            raise _SlackError("no_user")
        if self.bot_user_id in users:
            raise _SlackError("cant_invite_self")
        if not all(_USER_ID.fullmatch(u) for u in users):
            raise _SlackError("user_not_found")
        if channel.members.issuperset(users):
            raise _SlackError("already_in_channel")
        channel.members.update(users)
        return {"ok": True, "channel": self._channel_json(channel)}

    @_handles("conversations.join")
    def _join(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._visible_channel(args["channel"])
        if channel.is_private:
            raise _SlackError("method_not_supported_for_channel_type")
        if channel.is_archived:
            raise _SlackError("is_archived")
        already = self.bot_user_id in channel.members
        channel.members.add(self.bot_user_id)
        answer: dict[str, Any] = {"ok": True, "channel": self._channel_json(channel)}
        if already:
            answer |= {"warning": "already_in_channel"}
            answer |= {"response_metadata": {"warnings": ["already_in_channel"]}}
        return answer

    @_handles("conversations.archive")
    def _archive(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._visible_channel(args["channel"])
        if channel.is_archived:
            raise _SlackError("already_archived")
        channel.is_archived = True
        return {"ok": True}

    @_handles("conversations.setTopic", "conversations.setPurpose")
    def _set_topic(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._visible_channel(args["channel"])
        if self.bot_user_id not in channel.members:
            raise _SlackError("not_in_channel")
        if "topic" in args:
            channel.topic = str(args["topic"])
        if "purpose" in args:
            channel.purpose = str(args["purpose"])
        return {"ok": True, "channel": self._channel_json(channel)}

    @_handles("conversations.info")
    def _info(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._visible_channel(args["channel"])
        answer = self._channel_json(channel)
        if truthy(args.get("include_num_members")):
            answer["num_members"] = len(channel.members)
        return {"ok": True, "channel": answer}

    @_handles("conversations.members")
    def _members(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._visible_channel(args["channel"])
        page, cursor = _page(sorted(channel.members), args)
        return {"ok": True, "members": page, "response_metadata": {"next_cursor": cursor}}

    @_handles("conversations.list")
    def _list(self, args: dict[str, Any]) -> dict[str, Any]:
        types = str(args.get("types") or "public_channel").split(",")
        listed = [
            self._channel_json(c)
            for c in self._channels.values()
            if not c.is_im
            and ("private_channel" if c.is_private else "public_channel") in types
            and (not c.is_private or self.bot_user_id in c.members)
            and not (c.is_archived and truthy(args.get("exclude_archived")))
        ]
        page, cursor = _page(listed, args)
        return {"ok": True, "channels": page, "response_metadata": {"next_cursor": cursor}}

    @_handles("conversations.history", "conversations.replies")
    def _history(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._visible_channel(args["channel"])
        if self.bot_user_id not in channel.members:
            raise _SlackError("not_in_channel")
        if "ts" in args:  # conversations.replies: the parent, then its replies, oldest first
            thread = [m for m in channel.messages if args["ts"] in (m["ts"], m.get("thread_ts"))]
        else:  # history: top-level messages (and broadcast replies), newest first
            thread = [
                m
                for m in reversed(channel.messages)
                if m.get("thread_ts") in (None, m["ts"]) or m.get("subtype") == "thread_broadcast"
            ]
        inclusive = truthy(args.get("inclusive"))
        oldest = _ts_arg(args, "oldest", 0.0)
        latest = _ts_arg(args, "latest", float("inf"))
        thread = [m for m in thread if _within(float(m["ts"]), oldest, latest, inclusive)]
        if "ts" in args and not thread:
            raise _SlackError("thread_not_found")
        page, cursor = _page(thread, args)
        metadata = truthy(args.get("include_all_metadata"))
        return {
            "ok": True,
            "messages": [self._message_json(channel, m, metadata) for m in page],
            "has_more": bool(cursor),
            "pin_count": len(channel.pins),
            "response_metadata": {"next_cursor": cursor},
        }

    @_handles("chat.postMessage")
    def _post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._postable(args)
        message = self._new_message(args)
        channel.messages.append(message)
        answer = {"ok": True, "channel": channel.id, "ts": message["ts"]}
        return answer | {"message": self._message_json(channel, message, True)}

    def _postable(self, args: dict[str, Any]) -> FakeChannel:
        channel = self._channel(args["channel"])
        if channel.is_archived:
            raise _SlackError("is_archived")
        if channel.is_private and self.bot_user_id not in channel.members:
            raise _SlackError("not_in_channel")
        return channel

    @_handles("chat.update")
    def _update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._visible_channel(args["channel"])
        message = channel.message(args["ts"])
        if message is None:
            raise _SlackError("message_not_found")
        message.update({k: args[k] for k in ("blocks", "metadata", "attachments") if k in args})
        if "text" in args:
            message["text"] = _text(args)
        message["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        answer = {"ok": True, "channel": channel.id, "ts": message["ts"], "text": message["text"]}
        return answer | {"message": self._message_json(channel, message, True)}

    @_handles("chat.delete")
    def _delete(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._visible_channel(args["channel"])
        message = channel.message(args["ts"])
        if message is None:
            raise _SlackError("message_not_found")
        channel.messages.remove(message)
        channel.pins.discard(message["ts"])
        return {"ok": True, "channel": channel.id, "ts": message["ts"]}

    @_handles("chat.postEphemeral")
    def _post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._postable(args)
        if str(args["user"]) not in channel.members:
            raise _SlackError("user_not_in_channel")
        message = {"user": str(args["user"]), "text": _text(args), "ts": self._next_ts()}
        message |= {k: args[k] for k in ("blocks", "thread_ts") if k in args}
        channel.ephemeral.append(message)
        return {"ok": True, "message_ts": message["ts"]}

    @_handles("chat.getPermalink")
    def _permalink(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._visible_channel(args["channel"])
        if channel.message(args["message_ts"]) is None:
            raise _SlackError("message_not_found")
        ts = str(args["message_ts"]).replace(".", "")
        link = f"https://{self.team_domain}.slack.com/archives/{channel.id}/p{ts}"
        return {"ok": True, "channel": channel.id, "permalink": link}

    def _pin_target(self, args: dict[str, Any]) -> tuple[FakeChannel, str]:
        channel = self._visible_channel(args["channel"])
        ts = args.get("timestamp")
        if not ts:
            raise _SlackError("no_item_specified")
        if self.bot_user_id not in channel.members:
            raise _SlackError("not_in_channel")
        if channel.message(ts) is None:
            raise _SlackError("message_not_found")
        return channel, str(ts)

    @_handles("pins.add")
    def _pin_add(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = self._pin_target(args)
        if ts in channel.pins:
            raise _SlackError("already_pinned")
        channel.pins.add(ts)
        return {"ok": True}

    @_handles("pins.remove")
    def _pin_remove(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = self._pin_target(args)
        if ts not in channel.pins:
            raise _SlackError("no_pin")
        channel.pins.discard(ts)
        return {"ok": True}

    @_handles("pins.list")
    def _pins_list(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._visible_channel(args["channel"])
        items = [
            {"type": "message", "created": int(float(m["ts"])), "created_by": self.bot_user_id}
            | {"channel": channel.id, "message": self._message_json(channel, m, False)}
            for m in channel.messages
            if m["ts"] in channel.pins
        ]
        return {"ok": True, "items": items}

    @_handles("users.info")
    def _user_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = str(args["user"])
        if not _USER_ID.fullmatch(user):
            raise _SlackError("user_not_found")
        is_bot = user == self.bot_user_id
        name = "warroom" if is_bot else user.lower()
        profile = {"real_name": name.title(), "display_name": name, "team": self.team_id}
        profile |= {"bot_id": self.bot_id} if is_bot else {"email": f"{name}@example.com"}
        answer = {"id": user, "team_id": self.team_id, "name": name, "deleted": False}
        answer |= {"real_name": name.title(), "tz": "Etc/UTC", "tz_offset": 0, "is_bot": is_bot}
        return {"ok": True, "user": answer | {"is_admin": False, "profile": profile}}

    @_handles("views.open", "views.push", "views.update", "views.publish")
    def _view(self, args: dict[str, Any]) -> dict[str, Any]:
        opening = "view_id" not in args and "external_id" not in args and "user_id" not in args
        if opening and not (args.get("trigger_id") or args.get("interactivity_pointer")):
            self._violate("views: opening a view needs `trigger_id` or `interactivity_pointer`")
            raise _SlackError("invalid_arguments")
        if args.get("trigger_id"):
            self._use_trigger(str(args["trigger_id"]))
        view_id = str(args.get("view_id") or self._new_id("V"))
        known = self._views.get(view_id)
        if known is not None and args.get("hash") not in (None, known["hash"]):
            raise _SlackError("hash_conflict")
        view = dict(args["view"]) | {"id": view_id, "team_id": self.team_id, "app_id": self.app_id}
        view |= {"bot_id": self.bot_id, "hash": f"{time.time():.6f}.{self._rng.getrandbits(32)}"}
        view |= {"state": {"values": {}}, "root_view_id": view_id, "previous_view_id": None}
        view.setdefault("private_metadata", "")
        view.setdefault("callback_id", "")
        self._views[view_id] = view
        return {"ok": True, "view": copy.deepcopy(view)}


def _text(args: dict[str, Any]) -> str:
    # chat.postMessage truncates overlong text instead of failing (checked as a violation).
    return str(args.get("text") or "")[:MAX_TEXT_CHARS]


def _page(items: list[_T], args: dict[str, Any]) -> tuple[list[_T], str]:
    try:
        start = int(str(args.get("cursor") or "0").removeprefix("next:"))
        limit = int(args.get("limit") or 100) or 100
    except ValueError:
        raise _SlackError("invalid_cursor") from None
    end = start + limit
    return items[start:end], (f"next:{end}" if end < len(items) else "")


def _ts_arg(args: dict[str, Any], name: str, default: float) -> float:
    try:
        return float(args.get(name) or default)
    except ValueError:
        raise _SlackError(f"invalid_ts_{name}") from None


def _within(ts: float, oldest: float, latest: float, inclusive: bool) -> bool:
    return oldest <= ts <= latest if inclusive else oldest < ts < latest
