"""Helpers for the alert webhook glue: requests built as the server would hand them over,
and the vendored payloads."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.types import Message

from bot.alerts.model import AlertBatch, AlertSource
from handlers.alerts import AlertCredentials, read_alert
from handlers.http import Refusal
from tests.conftest import PROJECT_ROOT

FIXTURES = PROJECT_ROOT / "tests" / "fixtures"
TOKEN = "am-token-4b1d"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
CONFIGURED = AlertCredentials(token=TOKEN, token_name="WARROOM_ALERT_TOKEN", hmac_secret=None)


def fixture(path: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / path).read_text(encoding="utf-8"))
    return loaded


def encode(body: bytes | Mapping[str, Any] | list[Any]) -> bytes:
    return body if isinstance(body, bytes) else json.dumps(body).encode()


def request(
    body: bytes, headers: Mapping[str, str], *, chunk_size: int = 64 * 1024, declare: bool = True
) -> Request:
    """A POST whose body arrives in chunks, as from a socket; `declare` sends its length."""
    pairs = [
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()
    ]
    if declare:
        pairs.append((b"content-length", str(len(body)).encode()))
    chunks = [body[i : i + chunk_size] for i in range(0, len(body), chunk_size)] or [b""]

    async def receive() -> Message:
        piece = chunks.pop(0) if chunks else b""
        return {"type": "http.request", "body": piece, "more_body": bool(chunks)}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/alerts",
        "headers": pairs,
        "query_string": b"",
    }
    return Request(scope, receive)


async def deliver(
    source: AlertSource,
    body: bytes | Mapping[str, Any] | list[Any],
    *,
    credentials: AlertCredentials = CONFIGURED,
    headers: Mapping[str, str] = BEARER,
    declare: bool = True,
) -> AlertBatch | Refusal:
    return await read_alert(
        request(encode(body), headers, declare=declare), source=source, credentials=credentials
    )


async def refused(
    source: AlertSource, body: bytes | Mapping[str, Any] | list[Any], **options: Any
) -> Refusal:
    result = await deliver(source, body, **options)
    assert isinstance(result, Refusal), result
    return result


async def accepted(
    source: AlertSource, body: bytes | Mapping[str, Any] | list[Any], **options: Any
) -> AlertBatch:
    result = await deliver(source, body, **options)
    assert isinstance(result, AlertBatch), result
    return result
