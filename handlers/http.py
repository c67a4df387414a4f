"""What every inbound HTTP door shares: a body read with a ceiling, and the refusal a
route turns into a JSON error."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import ClientDisconnect, Request

MAX_BODY_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Refusal:
    """A request answered with an error instead of being handed on."""

    status: int
    error: str
    detail: str = ""
    field: str | None = None  # the payload field at fault (422), as a dotted path

    def body(self) -> dict[str, Any]:
        """The JSON the route answers with."""
        body: dict[str, Any] = {"ok": False, "error": self.error}
        if self.field is not None:
            body["field"] = self.field
        if self.detail:
            body["detail"] = self.detail
        return body


async def read_limited(request: Request, limit: int = MAX_BODY_BYTES) -> bytes | Refusal:
    """The body, or a 413 as soon as it is known to be too large: a declared length is
    trusted to refuse early, never to stop counting."""
    too_large = Refusal(413, "request_too_large", f"at most {limit} bytes")
    declared = request.headers.get("content-length")
    # A length that is not a plain number is refused like one too large (isascii:
    # "²".isdigit() is true and int("²") raises).
    if declared is not None and not (
        declared.isascii() and declared.isdigit() and int(declared) <= limit
    ):
        return too_large
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                return too_large
    except ClientDisconnect:
        return Refusal(400, "client_disconnected", "the body was cut short")
    return bytes(body)
