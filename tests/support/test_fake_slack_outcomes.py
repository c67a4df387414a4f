"""The fake Slack carries out slow and error-answered calls the way Slack does, lists the
bot's own channels, and keeps connections alive as cheaply as Slack does."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from .fake_slack import FakeSlack


@pytest.fixture
def client(fake: FakeSlack) -> AsyncWebClient:
    # No retries of its own: each call here is one request to the fake.
    return AsyncWebClient(
        token="xoxb-test",
        base_url=fake.api_url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=0)],
    )


async def eventually_true(check: object, seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "never happened"
        await asyncio.sleep(0.02)


async def test_a_lost_answer_is_an_error_page_over_a_call_carried_out(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    channel = fake.add_channel("incidents", members=["U0WARBOT"])
    fake.lose_answer("chat.postMessage", status=503)
    with pytest.raises(SlackApiError) as exc:
        await client.chat_postMessage(channel=channel, text="card")
    assert exc.value.response.status_code == 503
    assert [m["text"] for m in fake.channels[channel].messages] == ["card"]
    (call,) = fake.calls_to("chat.postMessage")
    assert call.status == 503 and call.outcome is not None and call.outcome["ok"]


async def test_a_lost_answer_may_be_carried_out_later(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    channel = fake.add_channel("incidents", members=["U0WARBOT"])
    fake.lose_answer("chat.postMessage", after=0.3, where={"channel": channel})
    with pytest.raises(SlackApiError):
        await client.chat_postMessage(channel=channel, text="late")
    assert fake.channels[channel].messages == []  # not yet
    await eventually_true(lambda: fake.channels[channel].messages)
    assert fake.violations == []


async def test_plans_with_where_apply_to_matching_calls_only(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    fake.hang("conversations.create", seconds=0.3, where={"name": "inc-2"})
    started = time.monotonic()
    await client.conversations_create(name="inc-1")
    assert time.monotonic() - started < 0.3
    await client.conversations_create(name="inc-2")
    assert time.monotonic() - started >= 0.3


async def test_a_hung_call_is_carried_out_after_its_caller_gave_up(fake: FakeSlack) -> None:
    fake.hang("conversations.create", seconds=0.6)
    impatient = AsyncWebClient(token="xoxb-test", base_url=fake.api_url, timeout=0.2)  # type: ignore[arg-type]
    with pytest.raises(TimeoutError):
        await impatient.conversations_create(name="inc-1")
    await eventually_true(lambda: fake.channel_named("inc-1") is not None)


async def test_slow_down_delays_every_call_until_undone(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    fake.slow_down(0.2)
    started = time.monotonic()
    await client.auth_test()
    assert time.monotonic() - started >= 0.2
    fake.slow_down(0)
    started = time.monotonic()
    await client.auth_test()
    assert time.monotonic() - started < 0.2


async def test_the_bots_own_channels_by_users_conversations(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    created = (await client.conversations_create(name="inc-1", is_private=True))["channel"]
    fake.add_channel("general", members=["U0ALEX"])  # the bot is not in it
    joined = fake.add_channel("incidents", members=["U0WARBOT"])
    listed = await client.users_conversations(
        types="public_channel,private_channel", exclude_archived=True, limit=1
    )
    first = listed["channels"]
    cursor = listed["response_metadata"]["next_cursor"]
    rest = (
        await client.users_conversations(types="public_channel,private_channel", cursor=cursor)
    )["channels"]
    assert [c["id"] for c in first + rest] == [created["id"], joined]
    assert first[0]["creator"] == "U0WARBOT" and first[0]["created"] > 0
    fake.remove_member(joined, "U0WARBOT")
    listed = await client.users_conversations(types="public_channel")
    assert listed["channels"] == []
    assert fake.violations == []


async def test_a_kept_alive_connection_answers_at_once(fake: FakeSlack) -> None:
    # No Nagle on the fake's side: on a reused connection every answer used to wait for
    # the client's delayed ACK (~40 ms), which made a shared session look slow.
    async with aiohttp.ClientSession() as session:
        client = AsyncWebClient(token="xoxb-test", base_url=fake.api_url, session=session)
        await client.auth_test()
        started = time.monotonic()
        for _ in range(10):
            await client.auth_test()
        assert (time.monotonic() - started) / 10 < 0.02
    assert len({call.peer_port for call in fake.calls}) == 1  # one connection for all
