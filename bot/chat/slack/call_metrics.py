"""Every Web API attempt counted, by Slack's method name and its outcome.

slack_sdk asks a client's retry handlers about every answer (and every failure to get
one) before deciding whether to try again: a handler placed first that always declines
sees each attempt, including a 429 that the rate-limit handler then retries and that the
caller never hears of. It is the one place every call of the process passes, the
adapter's and Bolt's alike.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from bot.observability.metrics import ChatCallObserver, ChatOutcome

log = logging.getLogger(__name__)

# `chat.postMessage`, `usergroups.users.list`: anything else under the base URL is not a
# method, and a file's upload URL (its own host, an id in its path) is one label.
_METHOD = re.compile(r"[a-z]+(\.[A-Za-z]+)+")
UPLOAD = "file_upload"


def method_of(url: str, base_url: str) -> str:
    name = url[len(base_url) :] if url.startswith(base_url) else ""
    name = name.split("?", 1)[0]
    return name if _METHOD.fullmatch(name) else UPLOAD


def outcome_of(response: HttpResponse | None, error: Exception | None) -> ChatOutcome:
    if error is not None or response is None:
        return "error"
    if response.status_code == 429:
        return "rate_limited"
    body: Any = response.body
    if response.status_code >= 400 or (isinstance(body, dict) and body.get("ok") is False):
        return "error"
    return "ok"


class CallCounter(AsyncRetryHandler):
    """Never retries; tells `observe` of each attempt. First in a client's handlers."""

    def __init__(self, observe: ChatCallObserver, *, base_url: str) -> None:
        super().__init__(max_retry_count=0)
        self.observe, self.base_url = observe, base_url

    async def can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        try:
            self.observe(method_of(request.url, self.base_url), outcome_of(response, error))
        except Exception:  # counting never fails the call it counts
            log.exception("a Slack call could not be counted")
        return False


def counters_of(handlers: list[AsyncRetryHandler]) -> list[AsyncRetryHandler]:
    """The call counter among a client's handlers, for another client of the same calls."""
    return [handler for handler in handlers if isinstance(handler, CallCounter)]
