"""A fake pager endpoint (PagerDuty's Events API v2, or any webhook) that records what it
receives and answers like PagerDuty: 202 with a dedup key, or a planned failure."""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakePager:
    received: list[Received] = field(default_factory=list)
    failures: list[int] = field(default_factory=list)  # statuses to answer first
    base_url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: uvicorn.Server | None = None

    async def _receive(self, request: Request) -> JSONResponse:
        body = json.loads(await request.body() or b"{}")
        with self._lock:
            self.received.append(Received(request.url.path, dict(request.headers), body))
            status = self.failures.pop(0) if self.failures else 202
        if status >= 300:
            return JSONResponse(
                {"status": "error", "message": "planned failure"}, status_code=status
            )
        return JSONResponse(
            {"status": "success", "dedup_key": body.get("dedup_key", "")}, status_code=202
        )

    def events(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def start(self) -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        app = Starlette(routes=[Route("/{path:path}", self._receive, methods=["POST"])])
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True).start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.02)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
