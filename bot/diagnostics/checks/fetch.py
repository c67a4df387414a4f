"""One HTTP request for the http and prometheus checks, its body read up to a bound."""

from __future__ import annotations

import contextlib
import importlib
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

import httpcore  # noqa: F401  (see below: loaded now rather than on the event loop)
import httpx

from bot.diagnostics.checks.errors import describe_error
from bot.diagnostics.checks.probe import CheckFailed, Probe
from bot.diagnostics.checks.trust import verifying_context
from bot.diagnostics.results import MAX_OUTPUT_BYTES
from bot.policy.diagnostics import Value

__all__ = ["MAX_BODY_BYTES", "Fetched", "fetch"]

# httpx imports its transport (httpcore) with its first client, and anyio, under it, its
# asyncio backend with the first request: some 80 ms of imports that would stall the
# event loop in the middle of the first checks. They are imported with this module.
with contextlib.suppress(ImportError):
    importlib.import_module("anyio._backends._asyncio")

# Enough for any health or query answer; a bigger body is not read to its end.
MAX_BODY_BYTES = 1024 * 1024
# Redaction can shorten the excerpt, so more than the output's bound is kept for it.
_EXCERPT_BYTES = 2 * MAX_OUTPUT_BYTES
# Plain (not `{env: …}`) values of these headers are secrets too, wherever they came from.
_SECRET_HEADER = re.compile(r"authorization|cookie|token|secret|key|password", re.I)
_USER_AGENT = "warroom-diagnostics"


@dataclass(frozen=True)
class Fetched:
    status: int
    reason: str
    http_version: str
    body: bytes
    complete: bool  # False: the body is longer than MAX_BODY_BYTES and was cut there
    elapsed_ms: int
    redirected_to: str | None  # the last URL, when redirects were followed

    def text(self, limit: int | None = None) -> str:
        return self.body[:limit].decode("utf-8", errors="replace")

    def keep_excerpt(self, probe: Probe) -> None:
        excerpt = self.body[:_EXCERPT_BYTES]
        probe.keep_output(
            excerpt.decode("utf-8", errors="replace"),
            cut=len(excerpt) < len(self.body) or not self.complete,
        )


async def fetch(
    probe: Probe,
    *,
    method: str,
    url: str,
    headers: Mapping[str, Value],
    check_timeout: timedelta,
    ca_file: str | None = None,
    follow_redirects: bool = False,
    params: Mapping[str, str] | None = None,
) -> Fetched:
    resolved = {name: probe.resolve(value) for name, value in headers.items()}
    for name, value in resolved.items():
        if _SECRET_HEADER.search(name):
            probe.add_secret(value)
    context = await verifying_context(ca_file)
    # The check's own deadline ends the request; httpx's is only a backstop behind it.
    backstop = httpx.Timeout(check_timeout.total_seconds() + 1)
    started = time.perf_counter()
    try:
        async with (
            httpx.AsyncClient(
                verify=context, follow_redirects=follow_redirects, timeout=backstop
            ) as client,
            client.stream(
                method,
                url,
                headers={"User-Agent": _USER_AGENT, **resolved},
                params=params,
            ) as response,
        ):
            body, complete = await _read(response)
    except httpx.HTTPError as error:
        raise CheckFailed(describe_error(error, host=httpx.URL(url).host)) from None
    return Fetched(
        status=response.status_code,
        reason=response.reason_phrase,
        http_version=response.http_version,
        body=body,
        complete=complete,
        elapsed_ms=round((time.perf_counter() - started) * 1000),
        redirected_to=str(response.url) if response.history else None,
    )


async def _read(response: httpx.Response) -> tuple[bytes, bool]:
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            return bytes(body[:MAX_BODY_BYTES]), False
    return bytes(body), True
