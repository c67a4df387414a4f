"""The Bot Connector and Graph clients, against the fake Bot Connector over real HTTP."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from bot.chat.teams.connector import BotConnector
from bot.chat.teams.graph import GraphChannels
from bot.errors import ChannelNameTaken, DeliveryError, OutcomeUnknown
from tests.support.fake_bot_connector import FakeBotConnector

TOKEN = "eyJ0eXAi.bot-token.s3cret"
GRAPH_TOKEN = "eyJ0eXAi.graph-token.s3cret"
BOT_ID = "b0t-app-id"
TENANT = "tenant-1"
TEAM = "team-1"
CHANNEL = "19:c0ffee@thread.tacv2"


class Tokens:
    def __init__(self, token: str = TOKEN) -> None:
        self.value = token

    async def token(self) -> str:
        return self.value


class BrokenTokens:
    async def token(self) -> str:
        raise RuntimeError("the token endpoint is down")


def message(text: str = "Incident 1 declared", **more: Any) -> dict[str, Any]:
    return {"type": "message", "text": text, **more}


@pytest.fixture(scope="module")
def server() -> Iterator[FakeBotConnector]:
    fake = FakeBotConnector(
        accept=lambda token: token == TOKEN,
        accept_graph=lambda token: token == GRAPH_TOKEN,
        validate_card=lambda card: [] if card.get("type") == "AdaptiveCard" else ["not a card"],
        bot_id=BOT_ID,
        tenant_id=TENANT,
    )
    with fake:
        yield fake


@pytest.fixture
def fake(server: FakeBotConnector) -> FakeBotConnector:
    server.reset()
    server.add_channel(channel_id=CHANNEL, team_id=TEAM, name="General")
    return server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def connector(http: httpx.AsyncClient) -> BotConnector:
    return BotConnector(http=http, tokens=Tokens(), bot_id=BOT_ID, timeout=2)


@pytest.fixture
def graph(http: httpx.AsyncClient, fake: FakeBotConnector) -> GraphChannels:
    return GraphChannels(http=http, tokens=Tokens(GRAPH_TOKEN), base_url=fake.graph_url)


async def start_thread(connector: BotConnector, fake: FakeBotConnector) -> str:
    started = await connector.create_conversation(
        service_url=fake.service_url, channel_id=CHANNEL, tenant_id=TENANT, activity=message()
    )
    return started.conversation_id


def assert_secret_kept(error: BaseException) -> None:
    for token in (TOKEN, GRAPH_TOKEN):
        assert token not in str(error) and token not in repr(error)


# the calls ----------------------------------------------------------------------------


async def test_a_thread_is_started_in_a_channel(
    connector: BotConnector, fake: FakeBotConnector
) -> None:
    card = {
        "contentType": "application/vnd.microsoft.card.adaptive",
        "content": {"type": "AdaptiveCard"},
    }
    started = await connector.create_conversation(
        service_url=fake.service_url,
        channel_id=CHANNEL,
        tenant_id=TENANT,
        activity={"text": "Incident 1", "attachments": [card]},
    )

    assert started.conversation_id == f"{CHANNEL};messageid={started.activity_id}"
    [call] = fake.calls
    assert call.path == "/amer/v3/conversations"  # the service URL's own '/' not doubled
    assert call.authorization == f"Bearer {TOKEN}"
    assert call.body == {
        "isGroup": True,
        "bot": {"id": f"28:{BOT_ID}"},
        "tenantId": TENANT,
        "channelData": {"channel": {"id": CHANNEL}, "tenant": {"id": TENANT}},
        "activity": {"type": "message", "text": "Incident 1", "attachments": [card]},
    }
    [thread] = fake.threads()
    assert (thread.conversation_id, thread.root.id) == (
        started.conversation_id,
        started.activity_id,
    )
    assert fake.last_card(started.conversation_id) == {"type": "AdaptiveCard"}
    assert fake.violations == []


async def test_posts_into_a_thread_travel_with_its_id_encoded(
    connector: BotConnector, fake: FakeBotConnector
) -> None:
    thread = await start_thread(connector, fake)
    root = fake.threads()[0].root.id

    first = await connector.send(
        service_url=fake.service_url, conversation_id=thread, activity=message("one")
    )
    reply = await connector.send(
        service_url=fake.service_url,
        conversation_id=thread,
        activity=message("two"),
        reply_to=first,
    )

    assert [post.id for post in fake.activities_in(thread)] == [root, first, reply]
    assert fake.activities_in(thread)[2].reply_to == first
    sent = fake.calls_to("send")
    assert sent[0].conversation_id == thread
    encoded = "19%3Ac0ffee%40thread.tacv2%3Bmessageid%3D" + root
    assert sent[0].path == f"/amer/v3/conversations/{encoded}/activities"
    assert sent[1].path.endswith(f"/activities/{first}")
    assert fake.violations == []


async def test_a_post_is_replaced_then_removed(
    connector: BotConnector, fake: FakeBotConnector
) -> None:
    thread = await start_thread(connector, fake)
    posted = await connector.send(
        service_url=fake.service_url, conversation_id=thread, activity=message("draft")
    )

    await connector.update(
        service_url=fake.service_url,
        conversation_id=thread,
        activity_id=posted,
        activity={"text": "final"},
    )
    assert fake.calls_to("update")[0].body == {"text": "final", "type": "message", "id": posted}
    assert fake.activities_in(thread)[-1].body["text"] == "final"

    await connector.delete(service_url=fake.service_url, conversation_id=thread, activity_id=posted)
    assert posted not in [post.id for post in fake.activities_in(thread)]
    # Already gone: nothing to do, and not an error.
    await connector.delete(service_url=fake.service_url, conversation_id=thread, activity_id=posted)
    with pytest.raises(DeliveryError) as caught:
        await connector.update(
            service_url=fake.service_url,
            conversation_id=thread,
            activity_id=posted,
            activity=message("again"),
        )
    assert caught.value.code == "teams_conversation_not_found" and not caught.value.retryable
    assert fake.violations == []


async def test_a_personal_chat_is_the_same_each_time(
    connector: BotConnector, fake: FakeBotConnector
) -> None:
    first = await connector.create_personal(
        service_url=fake.service_url, user_id="29:ann", tenant_id=TENANT
    )
    again = await connector.create_personal(
        service_url=fake.service_url, user_id="29:ann", tenant_id=None
    )
    await connector.send(service_url=fake.service_url, conversation_id=first, activity=message())

    assert first == again == fake.personal_chat_with("29:ann")
    assert fake.calls[0].body == {
        "isGroup": False,
        "members": [{"id": "29:ann"}],
        "bot": {"id": f"28:{BOT_ID}"},
        "tenantId": TENANT,
        "channelData": {"tenant": {"id": TENANT}},
    }
    assert "tenantId" not in fake.calls[1].body
    assert [post.body["text"] for post in fake.activities_in(first)] == ["Incident 1 declared"]
    assert fake.violations == []


async def test_replies_reach_threads_and_chats_started_by_people(
    connector: BotConnector, fake: FakeBotConnector
) -> None:
    # A person's channel post the fake never saw, and a 1:1 chat the person opened.
    thread = f"{CHANNEL};messageid=1699999999999"
    chat = fake.add_chat(user_id="29:bob")

    in_thread = await connector.send(
        service_url=fake.service_url,
        conversation_id=thread,
        activity=message("on it"),
        reply_to="1699999999999",
    )
    in_chat = await connector.send(
        service_url=fake.service_url, conversation_id=chat, activity=message("hi Bob")
    )

    assert [post.id for post in fake.activities_in(thread)] == ["1699999999999", in_thread]
    assert [post.id for post in fake.activities_in(chat)] == [in_chat]
    assert fake.personal_chat_with("29:bob") == chat
    assert fake.violations == []


async def test_anonymous_calls_carry_no_authorization(http: httpx.AsyncClient) -> None:
    anonymous = BotConnector(http=http, tokens=None, bot_id="28:" + BOT_ID)
    with FakeBotConnector() as fake:
        fake.add_channel(channel_id=CHANNEL, team_id=TEAM)
        started = await anonymous.create_conversation(
            service_url=fake.service_url, channel_id=CHANNEL, tenant_id=None, activity=message()
        )
        await anonymous.send(
            service_url=fake.service_url,
            conversation_id=started.conversation_id,
            activity=message("more"),
        )
        calls = fake.calls
    assert [call.authorization for call in calls] == [None, None]
    assert calls[0].body["bot"] == {"id": f"28:{BOT_ID}"}  # the prefix not doubled
    assert "tenantId" not in calls[0].body and "tenant" not in calls[0].body["channelData"]


# errors -------------------------------------------------------------------------------


async def test_throttling_waits_as_asked_or_backs_off(
    connector: BotConnector, fake: FakeBotConnector
) -> None:
    thread = await start_thread(connector, fake)
    fake.rate_limit("send", retry_after=7)
    fake.rate_limit("send", retry_after=None, times=2)
    waits = []
    for _ in range(3):
        with pytest.raises(DeliveryError) as caught:
            await connector.send(
                service_url=fake.service_url, conversation_id=thread, activity=message()
            )
        error = caught.value
        assert error.code == "teams_rate_limited" and error.retryable
        assert not isinstance(error, OutcomeUnknown)
        assert_secret_kept(error)
        waits.append(error.retry_after or 0)
    assert waits[0] == 7
    # Without a Retry-After: 1 s then 2 s after the first throttle, spread ±25%.
    assert 1.5 <= waits[1] <= 2.5 and 3 <= waits[2] <= 5


@pytest.mark.parametrize("status", [412, 500, 502, 503, 504])
async def test_a_server_error_leaves_a_post_unknown_and_an_edit_retryable(
    connector: BotConnector, fake: FakeBotConnector, status: int
) -> None:
    thread = await start_thread(connector, fake)
    posted = await connector.send(
        service_url=fake.service_url, conversation_id=thread, activity=message()
    )
    where = {"service_url": fake.service_url, "conversation_id": thread}
    fake.fail("send", status=status)
    fake.fail("update", status=status)
    fake.fail("delete", status=status)

    with pytest.raises(OutcomeUnknown) as unknown:
        await connector.send(**where, activity=message())
    with pytest.raises(DeliveryError) as update:
        await connector.update(**where, activity_id=posted, activity=message())
    with pytest.raises(DeliveryError) as delete:
        await connector.delete(**where, activity_id=posted)

    assert unknown.value.retryable and not unknown.value.timed_out
    for error in (update.value, delete.value):
        assert error.retryable and not isinstance(error, OutcomeUnknown)
        assert error.code == f"teams_http_{status}"
        assert_secret_kept(error)


async def test_a_lost_answer_is_unknown_though_the_post_landed(
    connector: BotConnector, fake: FakeBotConnector
) -> None:
    fake.lose_answer("create")
    with pytest.raises(OutcomeUnknown):
        await start_thread(connector, fake)
    assert len(fake.threads()) == 1


async def test_a_post_timing_out_is_unknown_and_lands_later(
    http: httpx.AsyncClient, fake: FakeBotConnector
) -> None:
    impatient = BotConnector(http=http, tokens=Tokens(), bot_id=BOT_ID, timeout=0.2)
    thread = await start_thread(impatient, fake)
    fake.hang("send", seconds=0.6)
    fake.hang("update", seconds=0.6)

    with pytest.raises(OutcomeUnknown) as caught:
        await impatient.send(
            service_url=fake.service_url, conversation_id=thread, activity=message("late")
        )
    assert caught.value.timed_out and caught.value.code == "teams_timeout"
    root = fake.threads()[0].root.id
    with pytest.raises(DeliveryError) as edit:
        await impatient.update(
            service_url=fake.service_url,
            conversation_id=thread,
            activity_id=root,
            activity=message("edited"),
        )
    assert edit.value.retryable and not isinstance(edit.value, OutcomeUnknown)
    # Both land once the service gets to them, though no one heard.
    deadline = time.monotonic() + 5
    while fake.activities_in(thread)[0].body["text"] != "edited":
        assert time.monotonic() < deadline, "the hung calls were never carried out"
        await asyncio.sleep(0.05)
    assert [post.body["text"] for post in fake.activities_in(thread)] == ["edited", "late"]


async def test_an_unreachable_service_is_retryable_and_certainly_not_posted(
    connector: BotConnector,
) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with pytest.raises(DeliveryError) as caught:
        await connector.send(
            service_url=f"http://127.0.0.1:{port}/", conversation_id="a:1", activity=message()
        )
    assert caught.value.code == "teams_unreachable" and caught.value.retryable
    assert not isinstance(caught.value, OutcomeUnknown)


@pytest.mark.parametrize("status", [401, 403])
async def test_refused_credentials_are_final(
    http: httpx.AsyncClient, fake: FakeBotConnector, status: int
) -> None:
    wrong = BotConnector(http=http, tokens=Tokens(GRAPH_TOKEN) if status == 401 else Tokens())
    if status == 403:
        fake.fail("create", status=403)
    with pytest.raises(DeliveryError) as caught:
        await start_thread(wrong, fake)
    assert caught.value.code == "teams_unauthorized" and not caught.value.retryable
    assert_secret_kept(caught.value)
    assert fake.threads() == []


async def test_a_refused_activity_says_why(connector: BotConnector, fake: FakeBotConnector) -> None:
    thread = await start_thread(connector, fake)
    mention = {"type": "mention", "text": "<at>Ann</at>", "mentioned": {"id": "29:ann"}}
    with pytest.raises(DeliveryError) as caught:
        await connector.send(
            service_url=fake.service_url,
            conversation_id=thread,
            activity=message("paged Ann", entities=[mention]),
        )
    error = caught.value
    assert error.code == "teams_bad_request" and not error.retryable
    assert "does not occur in the text" in error.detail and len(error.detail) <= 400
    assert fake.violations == ["send: mention '<at>Ann</at>' does not occur in the text"]


async def test_an_oversized_activity_or_a_bad_card_is_refused(
    connector: BotConnector, fake: FakeBotConnector
) -> None:
    thread = await start_thread(connector, fake)
    card = {"contentType": "application/vnd.microsoft.card.adaptive", "content": {"type": "x"}}
    for activity in (message("x" * 29_000), message(attachments=[card])):
        with pytest.raises(DeliveryError) as caught:
            await connector.send(
                service_url=fake.service_url, conversation_id=thread, activity=activity
            )
        assert caught.value.code == "teams_bad_request"
    assert [v.split(":")[0] for v in fake.violations] == ["send", "send"]
    assert "attachments[0]: not a card" in fake.violations[1]


async def test_an_unknown_conversation_is_final(
    connector: BotConnector, fake: FakeBotConnector
) -> None:
    with pytest.raises(DeliveryError) as caught:
        await connector.send(
            service_url=fake.service_url, conversation_id="19:gone@thread.tacv2", activity=message()
        )
    assert caught.value.code == "teams_conversation_not_found" and not caught.value.retryable


async def test_a_token_failure_is_the_token_sources_own(
    http: httpx.AsyncClient, fake: FakeBotConnector
) -> None:
    broken = BotConnector(http=http, tokens=BrokenTokens())
    with pytest.raises(RuntimeError, match="token endpoint is down"):
        await start_thread(broken, fake)
    assert fake.calls == []


async def test_a_token_echoed_back_is_redacted() -> None:
    def echo(request: httpx.Request) -> httpx.Response:
        said = f"bad header {request.headers['Authorization']}"
        return httpx.Response(400, json={"error": {"code": "BadArgument", "message": said}})

    async with httpx.AsyncClient(transport=httpx.MockTransport(echo)) as http:
        connector = BotConnector(http=http, tokens=Tokens())
        with pytest.raises(DeliveryError) as caught:
            await connector.send(
                service_url="https://smba.example/amer/", conversation_id="a:1", activity=message()
            )
    assert "[redacted]" in caught.value.detail
    assert_secret_kept(caught.value)


# Graph --------------------------------------------------------------------------------


async def test_a_channel_is_made_then_found_by_name(
    graph: GraphChannels, fake: FakeBotConnector
) -> None:
    name = "inc-7 Bob's 'quoted' outage"
    channel_id = await graph.create_channel(team_id=TEAM, name=name, private=False)

    assert await graph.find_channel(team_id=TEAM, name=name) == channel_id
    assert await graph.find_channel(team_id=TEAM, name=name.upper()) == channel_id
    assert await graph.find_channel(team_id=TEAM, name="inc-8") is None
    create, find = fake.calls[:2]
    assert create.authorization == f"Bearer {GRAPH_TOKEN}"
    assert create.body == {"displayName": name, "description": "", "membershipType": "standard"}
    assert "%24filter=" in find.path and "Bob%27%27s" in find.path
    assert fake.violations == []


async def test_a_taken_name_is_channel_name_taken(
    graph: GraphChannels, fake: FakeBotConnector
) -> None:
    with pytest.raises(ChannelNameTaken) as caught:
        await graph.create_channel(team_id=TEAM, name="general", private=False)
    assert not caught.value.retryable


async def test_a_lost_create_is_adopted_by_name(
    graph: GraphChannels, fake: FakeBotConnector
) -> None:
    fake.lose_answer("graph_create")
    with pytest.raises(OutcomeUnknown):
        await graph.create_channel(team_id=TEAM, name="inc-9", private=False)
    with pytest.raises(ChannelNameTaken):
        await graph.create_channel(team_id=TEAM, name="inc-9", private=False)
    assert await graph.find_channel(team_id=TEAM, name="inc-9") == fake.channel_named(TEAM, "inc-9")


async def test_a_private_channel_names_its_owners(
    graph: GraphChannels, fake: FakeBotConnector
) -> None:
    with pytest.raises(DeliveryError) as caught:
        await graph.create_channel(team_id=TEAM, name="inc-10", private=True)
    assert caught.value.code == "teams_bad_request"
    fake.reset()
    fake.add_channel(channel_id=CHANNEL, team_id=TEAM)

    await graph.create_channel(team_id=TEAM, name="inc-10", private=True, owners=["a1b2"])
    [member] = fake.calls[0].body["members"]
    assert member["roles"] == ["owner"] and member["user@odata.bind"].endswith("/users('a1b2')")
    assert fake.violations == []


async def test_graph_checks_its_own_token(http: httpx.AsyncClient, fake: FakeBotConnector) -> None:
    graph = GraphChannels(http=http, tokens=Tokens(TOKEN), base_url=fake.graph_url)
    with pytest.raises(DeliveryError) as caught:
        await graph.find_channel(team_id=TEAM, name="General")
    assert caught.value.code == "teams_unauthorized"
    assert_secret_kept(caught.value)
