"""Chat API calls counted by platform, API method and outcome, against the fake Slack and
the fake Bot Connector over real HTTP: every attempt, including a 429 that slack_sdk
retried on its own and the caller never heard of."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from slack_sdk.http_retry.response import HttpResponse

from bot.chat.port import Message
from bot.chat.slack.adapter import SlackChat, build_web_client
from bot.chat.slack.call_metrics import UPLOAD, method_of, outcome_of
from bot.chat.teams.connector import BotConnector
from bot.errors import DeliveryError
from bot.observability.metrics import Metrics
from tests.conftest import SPECS_DIR
from tests.support.fake_bot_connector import FakeBotConnector
from tests.support.fake_slack import FakeSlack

BOT = "U0WARBOT"


def calls(metrics: Metrics, platform: str, method: str, outcome: str) -> float:
    labels = {"platform": platform, "method": method, "outcome": outcome}
    return metrics.registry.get_sample_value("warroom_chat_api_calls_total", labels) or 0.0


def rate_limited(metrics: Metrics, platform: str, method: str) -> float:
    labels = {"platform": platform, "method": method}
    return metrics.registry.get_sample_value("warroom_chat_api_rate_limited_total", labels) or 0.0


# Slack ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def slack_server() -> Iterator[FakeSlack]:
    with FakeSlack(SPECS_DIR) as fake:
        yield fake


@pytest.fixture
def slack(slack_server: FakeSlack) -> Iterator[FakeSlack]:
    slack_server.reset()
    yield slack_server
    assert slack_server.violations == [], "the adapter made calls Slack would reject"


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """slack_sdk waits Retry-After plus a random second before retrying a 429: with
    Retry-After 0 and no randomness it retries at once, so the test never waits."""
    monkeypatch.setattr(random, "random", lambda: 0.0)


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
def chat(slack: FakeSlack, metrics: Metrics) -> SlackChat:
    client = build_web_client(
        token="xoxb-test", base_url=slack.api_url, on_call=metrics.chat_calls_of("slack")
    )
    return SlackChat(client)


HELLO = Message(markdown="Checkout is back", fallback="Checkout is back")


async def test_each_call_counts_under_its_slack_method(
    slack: FakeSlack, chat: SlackChat, metrics: Metrics
) -> None:
    channel = slack.add_channel("inc-7", members=[BOT])
    ts = await chat.post(channel_id=channel, message=HELLO)
    await chat.pin(channel_id=channel, message_ref=ts)
    assert calls(metrics, "slack", "chat.postMessage", "ok") == 1
    assert calls(metrics, "slack", "pins.add", "ok") == 1
    assert calls(metrics, "slack", "chat.postMessage", "error") == 0


async def test_a_429_retried_by_slack_sdk_is_still_counted(
    slack: FakeSlack, chat: SlackChat, metrics: Metrics, no_backoff: None
) -> None:
    channel = slack.add_channel("inc-7", members=[BOT])
    slack.rate_limit("chat.postMessage", retry_after=0)
    await chat.post(channel_id=channel, message=HELLO)  # the caller sees a success

    assert len(slack.calls_to("chat.postMessage")) == 2
    assert calls(metrics, "slack", "chat.postMessage", "rate_limited") == 1
    assert calls(metrics, "slack", "chat.postMessage", "ok") == 1
    assert rate_limited(metrics, "slack", "chat.postMessage") == 1


async def test_a_429_that_outlasts_the_retry_counts_every_attempt(
    slack: FakeSlack, chat: SlackChat, metrics: Metrics, no_backoff: None
) -> None:
    channel = slack.add_channel("inc-7", members=[BOT])
    ts = await chat.post(channel_id=channel, message=HELLO)
    slack.rate_limit("chat.update", retry_after=0, times=2)
    with pytest.raises(DeliveryError) as refused:
        await chat.update(channel_id=channel, message_ref=ts, message=HELLO)
    assert refused.value.code == "ratelimited" and refused.value.retryable

    assert calls(metrics, "slack", "chat.update", "rate_limited") == 2
    assert rate_limited(metrics, "slack", "chat.update") == 2
    assert calls(metrics, "slack", "chat.update", "ok") == 0


async def test_a_refusal_and_a_server_error_count_as_errors(
    slack: FakeSlack, chat: SlackChat, metrics: Metrics
) -> None:
    channel = slack.add_channel("inc-7", members=[BOT])
    slack.error("chat.postMessage", "is_archived")
    with pytest.raises(DeliveryError):
        await chat.post(channel_id=channel, message=HELLO)
    slack.fail("conversations.create", status=500)
    with pytest.raises(DeliveryError):
        await chat.open_channel(name="inc-8-checkout", private=False)

    assert calls(metrics, "slack", "chat.postMessage", "error") == 1
    assert calls(metrics, "slack", "conversations.create", "error") == 1
    assert rate_limited(metrics, "slack", "chat.postMessage") == 0


@pytest.mark.parametrize(
    ("response", "error", "outcome"),
    [
        (HttpResponse(status_code=200, headers={}, body={"ok": True}), None, "ok"),
        (HttpResponse(status_code=200, headers={}, body={"ok": False}), None, "error"),
        (HttpResponse(status_code=429, headers={"Retry-After": ["1"]}), None, "rate_limited"),
        (HttpResponse(status_code=503, headers={}), None, "error"),
        (HttpResponse(status_code=200, headers={}, data=b"OK - 12"), None, "ok"),  # an upload
        (None, ConnectionRefusedError(), "error"),  # no answer at all
    ],
)
def test_each_attempt_s_outcome(
    response: HttpResponse | None, error: Exception | None, outcome: str
) -> None:
    assert outcome_of(response, error) == outcome


async def test_a_client_without_an_observer_counts_nothing(slack: FakeSlack) -> None:
    channel = slack.add_channel("inc-7", members=[BOT])
    chat = SlackChat(build_web_client(token="xoxb-test", base_url=slack.api_url))
    await chat.post(channel_id=channel, message=HELLO)  # works as before


@pytest.mark.parametrize(
    ("url", "method"),
    [
        ("https://slack.com/api/chat.postMessage", "chat.postMessage"),
        ("https://slack.com/api/usergroups.users.list", "usergroups.users.list"),
        ("https://slack.com/api/auth.test?x=1", "auth.test"),
        ("https://files.slack.com/upload/v1/CwABAAAAXgsAAgAAAA", UPLOAD),
        ("https://slack.com/api/../../etc", UPLOAD),
    ],
)
def test_the_method_is_slack_s_own_name_or_one_upload_label(url: str, method: str) -> None:
    assert method_of(url, "https://slack.com/api/") == method


# Teams ---------------------------------------------------------------------------------

CHANNEL = "19:c0ffee@thread.tacv2"
TOKEN = "eyJ0eXAi.bot-token"


class Tokens:
    async def token(self) -> str:
        return TOKEN


@pytest.fixture(scope="module")
def connector_server() -> Iterator[FakeBotConnector]:
    fake = FakeBotConnector(
        accept=lambda token: token == TOKEN,
        accept_graph=lambda token: False,
        validate_card=lambda card: [],
        bot_id="b0t-app-id",
        tenant_id="tenant-1",
    )
    with fake:
        yield fake


@pytest.fixture
def bot_connector(connector_server: FakeBotConnector) -> FakeBotConnector:
    connector_server.reset()
    connector_server.add_channel(channel_id=CHANNEL, team_id="team-1", name="General")
    return connector_server


@pytest.fixture
async def teams(metrics: Metrics) -> AsyncIterator[BotConnector]:
    async with httpx.AsyncClient() as http:
        connector = BotConnector(http=http, tokens=Tokens(), bot_id="b0t-app-id", timeout=2)
        connector.count_calls(metrics.chat_calls_of("teams"))
        yield connector


async def test_teams_calls_count_by_bot_connector_operation(
    bot_connector: FakeBotConnector, teams: BotConnector, metrics: Metrics
) -> None:
    service = bot_connector.service_url
    started = await teams.create_conversation(
        service_url=service, channel_id=CHANNEL, tenant_id="tenant-1", activity={"text": "INC-1"}
    )
    conversation = started.conversation_id
    await teams.send(service_url=service, conversation_id=conversation, activity={"text": "hi"})
    bot_connector.rate_limit("send", retry_after=3)
    with pytest.raises(DeliveryError) as throttled:
        await teams.send(service_url=service, conversation_id=conversation, activity={"text": "2"})
    assert throttled.value.code == "teams_rate_limited"
    await teams.update(
        service_url=service,
        conversation_id=conversation,
        activity_id=started.activity_id,
        activity={"text": "INC-1 resolved"},
    )
    bot_connector.fail("delete", status=500)
    with pytest.raises(DeliveryError):
        await teams.delete(
            service_url=service, conversation_id=conversation, activity_id=started.activity_id
        )

    assert calls(metrics, "teams", "createConversation", "ok") == 1
    assert calls(metrics, "teams", "sendToConversation", "ok") == 1
    assert calls(metrics, "teams", "sendToConversation", "rate_limited") == 1
    assert rate_limited(metrics, "teams", "sendToConversation") == 1
    assert calls(metrics, "teams", "updateActivity", "ok") == 1
    assert calls(metrics, "teams", "deleteActivity", "error") == 1


async def test_a_bot_connector_that_cannot_be_reached_counts_as_an_error(
    teams: BotConnector, metrics: Metrics
) -> None:
    with pytest.raises(DeliveryError):
        await teams.send(
            service_url="http://127.0.0.1:9/", conversation_id="a:1", activity={"text": "hi"}
        )
    assert calls(metrics, "teams", "sendToConversation", "error") == 1
