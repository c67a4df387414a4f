"""A fake Slack: Web API, response_url and Socket Mode, checked against Slack's own specs.

Tests point the app at `FakeSlack.api_url`, drive it, then assert on `calls`, on the workspace
state (`channels`, `files`) and that `violations` stayed empty. Every request is checked against the
method specs and the Block Kit schema (see `fake_slack_validation`), so a call real Slack would
refuse fails here too, and is listed in `violations` even when the app swallows the error.

This module is the server: HTTP, Socket Mode, response_url, file uploads and failure plans.
The workspace state lives in `fake_slack_workspace`, what each Web API method does in
`fake_slack_methods` (and, for files, `fake_slack_files`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import copy
import json
import random
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from .fake_slack_files import UPLOAD, receive_upload, share
from .fake_slack_methods import handle
from .fake_slack_validation import Problem, load_specs, read_request, token_problems
from .fake_slack_workspace import TRIGGER_TTL_SECONDS as TRIGGER_TTL_SECONDS  # re-exported
from .fake_slack_workspace import FakeChannel as FakeChannel  # re-exported
from .fake_slack_workspace import FakeFile as FakeFile  # re-exported
from .fake_slack_workspace import Workspace

ACK_DEADLINE_SECONDS = 3.0  # slash commands, interactions and events must be acked in 3 s
RESPONSE_URL_USES = 5
# Slack keeps idle HTTP connections open for a long while; uvicorn's default (5 s) would
# close pooled keep-alive connections under a client that shares one session, a race no
# real Slack client meets this often.
KEEP_ALIVE_SECONDS = 75


@dataclass
class SlackCall:
    method: str
    args: dict[str, Any]
    token: str | None
    status: int = 0  # 0 while the answer is still pending (a `hang` plan)
    response: dict[str, Any] = field(default_factory=dict)
    # What the workspace made of it, once it did (for a `lose_answer` plan: maybe after
    # the caller heard `status`): None while not carried out.
    outcome: dict[str, Any] | None = None
    peer_port: int | None = None  # the client's end of the connection: one per connection
    received_at: float = field(default_factory=time.monotonic)


@dataclass
class _Plan:
    kind: str  # fail | rate_limit | error | hang | lose
    times: int
    status: int = 200
    error: str = ""
    retry_after: int = 0
    seconds: float = 0.0
    where: Mapping[str, str] = field(default_factory=dict)  # only calls with these args

    def matches(self, args: Mapping[str, Any]) -> bool:
        return all(str(args.get(name)) == value for name, value in self.where.items())


@dataclass
class _Pending:
    future: asyncio.Future[dict[str, Any]]
    kind: str
    sent_at: float


class FakeSlack:
    """One fake workspace served on 127.0.0.1 from a background thread.

    Failure plans (`fail`, `rate_limit`, `error`, `hang`, `lose_answer`) apply per method
    (and, given `where`, only to calls with those args), in the order given, before any
    check or effect: a failed call changes nothing. Two model what real Slack does with a
    slow call: `hang` answers late and `lose_answer` answers an error at once; both carry
    the call out all the same, whether the caller is still there or not. `slow_down` makes
    every call take a while. `reset()` forgets calls, violations, plans and state, then
    re-creates `seed_channels` (public, bot inside).

    The POST of a file's bytes to its upload URL is listed in `calls` as method `upload`
    (args `file_id`, `length`), and takes `fail`, `rate_limit`, `hang` and `lose_answer`
    plans under that name too.
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
        self._late: set[asyncio.Task[None]] = set()  # calls carried out after their answer
        self.reset()

    # lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        # IPPROTO_TCP said outright: asyncio sets TCP_NODELAY only on connections whose
        # socket names it, and without it every answer on a kept-alive connection waits
        # ~40 ms for the client's delayed ACK (Nagle), which no real Slack makes us wait.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self.api_url = self.base_url + "/api/"
        with self._lock:
            self._workspace.base_url = self.base_url
        config = uvicorn.Config(
            self._build_app(),
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=1,
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
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
        # Whether the test's end checks one message per channel per second: a test that
        # runs several processes turns it off, as each paces only its own posts.
        self.one_post_a_second = True
        with self._lock:
            self._calls: list[SlackCall] = []
            self._violations: list[str] = []
            self._plans: dict[str, deque[_Plan]] = {}
            self._latency: dict[str | None, float] = {}  # method (None: any) -> seconds
            self._responses: dict[str, list[dict[str, Any]]] = {}
            self._workspace = Workspace(
                team_id=self.team_id,
                bot_user_id=self.bot_user_id,
                bot_id=self.bot_id,
                app_id=self.app_id,
                team_domain=self.team_domain,
                rng=self._rng,
                violate=self._violate,
                base_url=self.base_url,
            )
            for name in self._seed_channels:
                self.add_channel(name, members=[self.bot_user_id])

    # what the tests read ---------------------------------------------------------------

    @property
    def calls(self) -> list[SlackCall]:
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[SlackCall]:
        return [call for call in self.calls if call.method == method]

    def most_posts_in_a_second(self) -> tuple[int, str | None]:
        """The most messages one channel got within one second, and which channel: the
        bot keeps to one a second per channel, as Slack asks. A 10% margin absorbs the
        time between the bot's clock and ours."""
        posted: dict[str, list[float]] = {}
        for call in self.calls_to("chat.postMessage"):
            if call.status == 200 and call.response.get("ok"):
                posted.setdefault(str(call.args.get("channel")), []).append(call.received_at)
        worst: tuple[int, str | None] = (0, None)
        for channel, times in posted.items():
            times.sort()
            start = 0
            for end, at in enumerate(times):
                while at - times[start] >= 0.9:
                    start += 1
                if end - start + 1 > worst[0]:
                    worst = (end - start + 1, channel)
        return worst

    @property
    def violations(self) -> list[str]:
        with self._lock:
            return list(self._violations)

    @property
    def channels(self) -> dict[str, FakeChannel]:
        with self._lock:
            return dict(self._workspace.channels)

    def channel_named(self, name: str) -> FakeChannel | None:
        with self._lock:
            return self._workspace.channel_named(name)

    @property
    def files(self) -> list[FakeFile]:
        """Every file an upload ticket was issued for, oldest first (deleted ones too)."""
        with self._lock:
            return list(self._workspace.files.values())

    def files_in(self, channel_id: str) -> list[FakeFile]:
        """The files shared in a channel and not deleted, in the order they were shared."""
        with self._lock:
            shared = [f for f in self._workspace.files.values() if channel_id in f.shares]
            return sorted(
                (f for f in shared if not f.deleted), key=lambda f: float(f.shares[channel_id])
            )

    def share_file_as(
        self, user: str, channel_id: str, name: str, *, content: bytes = b"x", text: str = ""
    ) -> str:
        """Someone else shares a file in a channel; returns the file's id."""
        with self._lock:
            ws = self._workspace
            file = FakeFile(ws.new_id("F"), name, len(content), user=user, title=name)
            file.content, file.completed, file.initial_comment = content, True, text
            ws.files[file.id] = file
            share(ws, file, ws.channels[channel_id], text=text, thread_ts=None)
            return file.id

    def post_as(self, user: str, channel_id: str, text: str) -> str:
        """A person's message in a channel; returns its ts."""
        with self._lock:
            return self._workspace.user_message(channel_id, user, text)

    def remove_member(self, channel_id: str, user: str) -> None:
        """Someone removes `user` (the bot, say) from a channel."""
        with self._lock:
            self._workspace.channels[channel_id].members.discard(user)

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
            return self._workspace.add_channel(
                name, channel_id=channel_id, is_private=is_private, members=members
            )

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
            return self._workspace.issue_trigger()

    def fail(self, method: str, *, status: int = 500, times: int = 1) -> None:
        self._add_plan(method, _Plan("fail", times, status=status, error="fatal_error"))

    def rate_limit(self, method: str, *, retry_after: int = 1, times: int = 1) -> None:
        plan = _Plan("rate_limit", times, status=429, error="ratelimited", retry_after=retry_after)
        self._add_plan(method, plan)

    def error(self, method: str, error: str, *, times: int = 1) -> None:
        if method in self._specs.methods and error not in self._specs.errors_of(method):
            raise ValueError(f"{method} never answers {error!r} according to its spec")
        self._add_plan(method, _Plan("error", times, error=error))

    def hang(
        self,
        method: str,
        *,
        seconds: float,
        times: int = 1,
        where: Mapping[str, str] | None = None,
    ) -> None:
        """Answer after `seconds`, then carry the call out: a client that gave up on it
        (timed out) finds it done later, as Slack applies a slow call late."""
        self._add_plan(method, _Plan("hang", times, seconds=seconds, where=dict(where or {})))

    def lose_answer(
        self,
        method: str,
        *,
        status: int = 503,
        after: float = 0.0,
        times: int = 1,
        where: Mapping[str, str] | None = None,
    ) -> None:
        """Answer `status` (an error page) at once, and carry the call out all the same,
        `after` seconds later: the caller cannot tell whether it happened."""
        plan = _Plan("lose", times, status=status, error="fatal_error", seconds=after)
        plan.where = dict(where or {})
        self._add_plan(method, plan)

    def slow_down(self, seconds: float, *, methods: Iterable[str] = ()) -> None:
        """Every call (of `methods`, or of any method) takes `seconds` before Slack acts on
        it and answers; it is carried out even if the caller is gone by then. 0 undoes it."""
        with self._lock:
            for method in tuple(methods) or (None,):
                self._latency[method] = seconds

    def reset_failures(self) -> None:
        """Drop every failure plan not yet used up: Slack is healthy again."""
        with self._lock:
            self._plans = {}
            self._latency = {}

    def _add_plan(self, method: str, plan: _Plan) -> None:
        with self._lock:
            self._plans.setdefault(method, deque()).append(plan)

    def _take_plan(self, method: str, args: Mapping[str, Any]) -> _Plan | None:
        with self._lock:
            plans = self._plans.get(method) or deque()
            plan = next((p for p in plans if p.matches(args)), None)
            if plan is None:
                return None
            plan.times -= 1
            if plan.times <= 0:
                plans.remove(plan)
            return plan

    def _delay(self, method: str) -> float:
        with self._lock:
            return self._latency.get(method, self._latency.get(None, 0.0))

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
                Route("/upload/{file_id}", self._upload, methods=["POST"]),
                WebSocketRoute("/socket", self._socket),
            ]
        )

    async def _web_api(self, request: Request) -> JSONResponse:
        method = request.path_params["method"]
        args, token, problems = await read_request(request)
        call = SlackCall(
            method, args, token, peer_port=request.client.port if request.client else None
        )
        with self._lock:
            self._calls.append(call)
        # The handler runs on whether or not the client is still connected: like Slack, a
        # call that was sent is carried out even if its caller gave up waiting.
        delay = self._delay(method)
        if delay:
            await asyncio.sleep(delay)
        plan, headers = self._take_plan(method, args), {}
        if plan is not None and plan.kind == "hang":
            await asyncio.sleep(plan.seconds)
            plan = None
        if plan is not None and plan.kind == "lose":
            self._carry_out_later(call, problems, plan.seconds)
        if plan is None:
            status, body = 200, self._carried_out(call, problems)
        else:
            status, body = plan.status, {"ok": False, "error": plan.error}
            if plan.kind == "rate_limit":
                headers["Retry-After"] = str(plan.retry_after)
        with self._lock:
            call.status, call.response = status, copy.deepcopy(body)
        return JSONResponse(body, status_code=status, headers=headers)

    def _carried_out(self, call: SlackCall, problems: list[Problem]) -> dict[str, Any]:
        answer = self._answer(call.method, call.args, call.token, problems)
        with self._lock:
            call.outcome = copy.deepcopy(answer)
        return answer

    def _carry_out_later(self, call: SlackCall, problems: list[Problem], after: float) -> None:
        async def later() -> None:
            await asyncio.sleep(after)
            self._carried_out(call, problems)

        if not after:
            self._carried_out(call, problems)
            return
        task = asyncio.get_running_loop().create_task(later())
        self._late.add(task)
        task.add_done_callback(self._late.discard)

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
        if method == "apps.connections.open":
            # Socket Mode's URL is this server's, nothing the workspace knows about.
            return {"ok": True, "url": self.base_url.replace("http://", "ws://") + "/socket"}
        with self._lock:
            return handle(self._workspace, method, args)

    async def _upload(self, request: Request) -> PlainTextResponse:
        """A file's bytes, POSTed to the URL its ticket named: no token, the URL is the
        ticket. Failure plans apply as to a method named `upload`."""
        file_id, content = request.path_params["file_id"], await request.body()
        args: dict[str, Any] = {"file_id": file_id, "length": len(content)}
        peer = request.client.port if request.client else None
        call = SlackCall(UPLOAD, args, None, peer_port=peer)
        with self._lock:
            self._calls.append(call)
        plan, headers = self._take_plan(UPLOAD, args), {}
        if plan is not None and plan.kind == "hang":
            await asyncio.sleep(plan.seconds)
            plan = None
        if plan is None or plan.kind == "lose":  # a lost answer: the bytes arrived all the same
            with self._lock:
                status, text = receive_upload(self._workspace, file_id, content)
                call.outcome = {"status": status, "text": text}
        if plan is not None:
            status, text = plan.status, plan.error
            if plan.kind == "rate_limit":
                headers["Retry-After"] = str(plan.retry_after)
        with self._lock:
            call.status, call.response = status, {"text": text}
        return PlainTextResponse(text, status_code=status, headers=headers)

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
