"""What the Slack adapter tells the effects about a failed call, by type: refused, never
sent, or unknown (Slack may have carried it out, or may still); and which calls slack_sdk
may repeat on its own."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.chat.port import OutcomeUnknown
from bot.chat.slack.adapter import SlackChat, _chat_error, build_web_client
from bot.errors import ChannelNameTaken, DeliveryError


def refused(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    response = AsyncSlackResponse(
        client=None,  # type: ignore[arg-type]
        http_verb="POST",
        api_url="https://slack.com/api/chat.postMessage",
        req_args={},
        data=body,
        headers=headers or {},
        status_code=status,
    )
    return SlackApiError("refused", response)


def answered(status: int, error: str | None = None, **headers: str) -> Any:
    return refused(status, {"ok": False} | ({"error": error} if error else {}), headers)


UNKNOWN, REFUSED = OutcomeUnknown, DeliveryError
NEVER_CONNECTED = aiohttp.ClientConnectorError(None, OSError(111, "refused"))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("failure", "kind", "code", "timed_out"),
    [
        (answered(503), UNKNOWN, "http_503", False),
        (answered(200, "fatal_error"), UNKNOWN, "fatal_error", False),
        (answered(200, "internal_error"), UNKNOWN, "internal_error", False),
        (TimeoutError(), UNKNOWN, "timeout", True),
        (aiohttp.ServerDisconnectedError(), UNKNOWN, "connection_lost", False),
        (NEVER_CONNECTED, REFUSED, "connection_error", False),
        (answered(429, "ratelimited", **{"Retry-After": "7"}), REFUSED, "ratelimited", False),
        (answered(200, "name_taken"), ChannelNameTaken, "name_taken", False),
        (answered(200, "channel_not_found"), REFUSED, "channel_not_found", False),
    ],
)  # fmt: skip
def test_failures_say_whether_the_call_may_have_been_carried_out(
    failure: Exception, kind: type[DeliveryError], code: str, timed_out: bool
) -> None:
    error = _chat_error("chat.postMessage", failure)
    assert type(error) is kind and error.code == code
    assert isinstance(error, OutcomeUnknown) == (kind is OutcomeUnknown)
    if isinstance(error, OutcomeUnknown):
        assert error.retryable and error.timed_out is timed_out


def test_a_rate_limit_waits_as_long_as_slack_asks() -> None:
    error = _chat_error("pins.add", answered(429, **{"Retry-After": "7"}))
    assert error.retryable and error.retry_after == 7


def test_posts_and_new_channels_are_never_repeated_by_slack_sdk_blindly() -> None:
    chat = SlackChat(build_web_client(token="xoxb-1", base_url="https://slack.test/api"))
    repeating, once = chat.web_clients
    assert any(isinstance(h, AsyncServerErrorRetryHandler) for h in repeating.retry_handlers)
    assert not any(isinstance(h, AsyncServerErrorRetryHandler) for h in once.retry_handlers)
    (connection,) = [
        h for h in once.retry_handlers if isinstance(h, AsyncConnectionErrorRetryHandler)
    ]
    # Only a connection never made is tried again: the request cannot have reached Slack.
    assert connection.error_types_to_do_retries == [aiohttp.ClientConnectorError]


def test_alternative_names_are_the_same_on_every_attempt() -> None:
    chat = SlackChat(build_web_client(token="xoxb-1", base_url="https://slack.test/api"))
    names = [chat.alternative_channel_name("inc-7-checkout", n) for n in range(1, 12)]
    assert names[:4] == [f"inc-7-checkout-{n}" for n in range(2, 6)]
    assert names == [chat.alternative_channel_name("inc-7-checkout", n) for n in range(1, 12)]
    assert len(set(names)) == len(names) and all(len(name) <= 80 for name in names)
