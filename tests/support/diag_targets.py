"""Real local targets for the diagnostics checks: a small HTTP server (plain or TLS) whose
answers a test chooses per path, a TLS server that only shakes hands, a port that accepts
connections and never answers, and a port nothing listens on."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "HANG",
    "HttpTarget",
    "Reply",
    "Request",
    "TlsTarget",
    "closed_port",
    "json_reply",
    "silent_port",
]


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # names in lower case


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def json_reply(data: Any, status: int = 200) -> Reply:
    return Reply(status=status, body=json.dumps(data).encode())


# A route that never answers: the connection stays open until the server closes.
HANG = "hang"
Route = Reply | str | Callable[[Request], Reply | Awaitable[Reply]]


class HttpTarget:
    """An HTTP/1.1 server on 127.0.0.1: `routes` maps a path to its reply, to HANG, or to a
    function of the request. Unknown paths answer 404."""

    def __init__(self, routes: dict[str, Route], *, context: ssl.SSLContext | None = None):
        self.routes = routes
        self.requests: list[Request] = []
        self._context = context
        self._server: asyncio.Server | None = None
        self._connections = _Connections()
        self._closing = asyncio.Event()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    def url(self, path: str = "/") -> str:
        scheme = "https" if self._context else "http"
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    async def __aenter__(self) -> HttpTarget:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self._context)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._closing.set()
        assert self._server is not None
        self._server.close()
        await self._connections.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections.add(writer)
        try:
            request = await _read_request(reader)
            if request is None:
                return
            self.requests.append(request)
            route = self.routes.get(request.path)
            if route == HANG:
                await self._closing.wait()
                return
            reply = await _reply(route, request)
            writer.write(_encoded(reply, head=request.method == "HEAD"))
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            self._connections.done(writer)
            writer.transport.abort()


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    if length:
        await reader.readexactly(length)
    parts = urlsplit(target)
    return Request(method, parts.path, parse_qs(parts.query), headers)


async def _reply(route: Route | None, request: Request) -> Reply:
    if route is None:
        return Reply(status=404, body=b"not found", content_type="text/plain")
    if isinstance(route, Reply):
        return route
    assert callable(route)
    reply = route(request)
    return await reply if not isinstance(reply, Reply) else reply


def _encoded(reply: Reply, *, head: bool) -> bytes:
    try:
        phrase = HTTPStatus(reply.status).phrase
    except ValueError:
        phrase = ""
    lines = [
        f"HTTP/1.1 {reply.status} {phrase}",
        f"Content-Type: {reply.content_type}",
        f"Content-Length: {len(reply.body)}",
        "Connection: close",
        *(f"{name}: {value}" for name, value in reply.headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (b"" if head else reply.body)


class TlsTarget:
    """A TLS server on 127.0.0.1 that completes the handshake and waits for the client to
    hang up."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        self._server: asyncio.Server | None = None
        self._connections = _Connections()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def __aenter__(self) -> TlsTarget:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self._context)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._connections.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections.add(writer)
        try:
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                await reader.read()
        finally:
            self._connections.done(writer)
            writer.transport.abort()


class _Connections:
    """A server's open connections, to end them all when it closes. Their handlers are
    left to return by themselves (asyncio's stream server logs a cancelled one as an
    error)."""

    def __init__(self) -> None:
        self._open: set[asyncio.StreamWriter] = set()
        self._all_done = asyncio.Event()
        self._all_done.set()

    def add(self, writer: asyncio.StreamWriter) -> None:
        self._open.add(writer)
        self._all_done.clear()

    def done(self, writer: asyncio.StreamWriter) -> None:
        self._open.discard(writer)
        if not self._open:
            self._all_done.set()

    async def close(self) -> None:
        for writer in list(self._open):
            writer.transport.abort()
        await self._all_done.wait()


@contextlib.contextmanager
def silent_port() -> Iterator[int]:
    """A port whose connections the kernel accepts and nobody ever reads or answers."""
    with socket.create_server(("127.0.0.1", 0), backlog=64) as listener:
        yield int(listener.getsockname()[1])


def closed_port() -> int:
    """A port nothing listens on (it was free a moment ago, and is not handed out again
    at once)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
