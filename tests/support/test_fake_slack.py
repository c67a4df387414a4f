"""The fake Slack answers like Slack does, and flags every call Slack would refuse.

Socket Mode has its own module, `test_fake_slack_socket_mode`.
"""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from .conftest import SPECS_DIR
from .fake_slack import FakeSlack

SECTION = {"type": "section", "text": {"type": "mrkdwn", "text": "*SEV1* checkout is down"}}
METADATA = {"event_type": "incident_declared", "event_payload": {"incident_id": 42}}
MODAL = {
    "type": "modal",
    "callback_id": "declare",
    "title": {"type": "plain_text", "text": "Declare incident"},
    "submit": {"type": "plain_text", "text": "Declare"},
    "blocks": [
        {
            "type": "input",
            "block_id": "title",
            "label": {"type": "plain_text", "text": "Title"},
            "element": {"type": "plain_text_input", "action_id": "value"},
        }
    ],
}


@pytest.fixture
def client(fake: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token="xoxb-test", base_url=fake.api_url)


def slack_error(exc: pytest.ExceptionInfo[SlackApiError]) -> str:
    return str(exc.value.response["error"])


async def test_auth_test_names_the_bot(fake: FakeSlack, client: AsyncWebClient) -> None:
    answer = await client.auth_test()
    assert answer["user_id"] == "U0WARBOT"
    assert answer["team_id"] == "T0WARROOM"
    assert answer["bot_id"].startswith("B")
    assert fake.calls_to("auth.test")[0].token == "xoxb-test"
    assert fake.violations == []


async def test_team_id_from_bolts_per_request_client(fake: FakeSlack) -> None:
    # Bolt builds each request's client with the team_id, and slack_sdk adds it to every call.
    bolt_like = AsyncWebClient(token="xoxb-test", base_url=fake.api_url, team_id="T0WARROOM")
    await bolt_like.auth_test()
    assert fake.calls_to("auth.test")[0].args == {"team_id": "T0WARROOM"}
    assert fake.violations == []
    stranger = AsyncWebClient(token="xoxb-test", base_url=fake.api_url, team_id="T0OTHER")
    with pytest.raises(SlackApiError) as exc:
        await stranger.auth_test()
    assert slack_error(exc) == "team_access_not_granted"
    assert len(fake.violations) == 1


def test_reset_keeps_seeded_channels() -> None:
    fake = FakeSlack(SPECS_DIR, seed_channels=["incidents"])
    fake.add_channel("scratch")
    fake.reset()
    assert [c.name for c in fake.channels.values()] == ["incidents"]
    assert fake.channel_named("incidents").members == {"U0WARBOT"}  # type: ignore[union-attr]


async def test_create_channel_then_the_name_is_taken(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    channel = (await client.conversations_create(name="inc-42-checkout", is_private=True))[
        "channel"
    ]
    assert channel["id"].startswith("C") and len(channel["id"]) == 11
    assert channel["is_private"] is True and channel["is_member"] is True
    assert channel["creator"] == "U0WARBOT"
    created = fake.channel_named("inc-42-checkout")
    assert created is not None and created.members == {"U0WARBOT"}

    with pytest.raises(SlackApiError) as exc:
        await client.conversations_create(name="inc-42-checkout")
    assert slack_error(exc) == "name_taken"
    assert fake.violations == []  # a refusal the app must handle, not a misuse


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("", "invalid_name_required"),
        ("x" * 81, "invalid_name_maxlength"),
        ("Inc 42", "invalid_name_specials"),
        ("inc.42", "invalid_name_specials"),
        ("---", "invalid_name_punctuation"),
    ],
)
async def test_channel_name_rules(
    fake: FakeSlack, client: AsyncWebClient, name: str, error: str
) -> None:
    with pytest.raises(SlackApiError) as exc:
        await client.conversations_create(name=name)
    assert slack_error(exc) == error
    assert fake.channels == {}


async def test_invite(fake: FakeSlack, client: AsyncWebClient) -> None:
    channel_id = (await client.conversations_create(name="inc-7"))["channel"]["id"]
    await client.conversations_invite(channel=channel_id, users="U01AAA,U01BBB")
    with pytest.raises(SlackApiError) as exc:
        await client.conversations_invite(channel=channel_id, users=["U01AAA", "U01BBB"])
    assert slack_error(exc) == "already_in_channel"
    await client.conversations_invite(channel=channel_id, users="U01AAA,U01CCC")  # partly new
    assert fake.channels[channel_id].members == {"U0WARBOT", "U01AAA", "U01BBB", "U01CCC"}

    with pytest.raises(SlackApiError) as exc:
        await client.conversations_invite(channel=channel_id, users="U0WARBOT")
    assert slack_error(exc) == "cant_invite_self"
    outside = fake.add_channel("general")
    with pytest.raises(SlackApiError) as exc:
        await client.conversations_invite(channel=outside, users="U01AAA")
    assert slack_error(exc) == "not_in_channel"
    with pytest.raises(SlackApiError) as exc:
        await client.conversations_invite(channel="C0NOPE00000", users="U01AAA")
    assert slack_error(exc) == "channel_not_found"
    assert fake.violations == []


async def test_post_message_with_blocks_and_metadata(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    channel_id = fake.add_channel("incidents")
    answer = await client.chat_postMessage(
        channel=channel_id, text="SEV1", blocks=[SECTION], metadata=METADATA
    )
    assert answer["channel"] == channel_id
    assert answer["message"]["blocks"] == [SECTION]
    call = fake.calls_to("chat.postMessage")[0]
    assert call.args["blocks"] == [SECTION] and call.args["metadata"] == METADATA
    stored = fake.channels[channel_id].messages
    assert [m["ts"] for m in stored] == [answer["ts"]]
    assert stored[0]["user"] == "U0WARBOT" and stored[0]["text"] == "SEV1"
    assert fake.violations == []


def test_form_encoded_json_args_are_decoded(fake: FakeSlack) -> None:
    channel_id = fake.add_channel("incidents")
    form = {"channel": channel_id, "text": "hi", "blocks": json.dumps([SECTION])}
    answer = httpx.post(
        fake.api_url + "chat.postMessage", data=form, headers={"Authorization": "Bearer xoxb-t"}
    ).json()
    assert answer["ok"] is True
    assert fake.calls_to("chat.postMessage")[0].args["blocks"] == [SECTION]
    assert fake.violations == []


async def test_timestamps_increase_under_concurrent_posts(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    channel_id = fake.add_channel("incidents")

    await asyncio.gather(
        *(client.chat_postMessage(channel=channel_id, text=f"update {n}") for n in range(20))
    )
    stamps = [m["ts"] for m in fake.channels[channel_id].messages]
    assert len(set(stamps)) == 20
    assert [float(ts) for ts in stamps] == sorted(float(ts) for ts in stamps)
    assert fake.violations == []


async def test_invalid_blocks_are_refused_and_reported(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    channel_id = fake.add_channel("incidents")
    header = {"type": "header", "text": {"type": "mrkdwn", "text": "header takes plain_text"}}
    with pytest.raises(SlackApiError) as exc:
        await client.chat_postMessage(channel=channel_id, text="x", blocks=[SECTION, header])
    assert slack_error(exc) == "invalid_blocks"
    assert fake.channels[channel_id].messages == []
    [violation] = fake.violations
    assert violation.startswith("chat.postMessage: blocks/1/text/type")


async def test_more_than_50_blocks_is_a_violation(fake: FakeSlack, client: AsyncWebClient) -> None:
    channel_id = fake.add_channel("incidents")
    with pytest.raises(SlackApiError) as exc:
        await client.chat_postMessage(
            channel=channel_id, text="x", blocks=[{"type": "divider"}] * 51
        )
    assert slack_error(exc) == "invalid_blocks"
    assert fake.violations == ["chat.postMessage: 51 blocks, a message takes at most 50"]


async def test_message_without_text_or_blocks(fake: FakeSlack, client: AsyncWebClient) -> None:
    channel_id = fake.add_channel("incidents")
    with pytest.raises(SlackApiError) as exc, pytest.warns(UserWarning, match="`text`"):
        await client.chat_postMessage(channel=channel_id)
    assert slack_error(exc) == "no_text"
    assert len(fake.violations) == 1


async def test_unknown_argument_and_method_are_violations(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    channel_id = fake.add_channel("incidents")
    with pytest.raises(SlackApiError):
        await client.chat_postMessage(channel=channel_id, text="x", colour="red")
    with pytest.raises(SlackApiError) as exc:
        await client.api_call("incidents.declare")
    assert slack_error(exc) == "unknown_method"
    assert fake.violations == [
        "chat.postMessage: argument `colour` is not in the spec",
        "incidents.declare: no such Web API method",
    ]


def test_missing_token_and_wrong_token_type(fake: FakeSlack) -> None:
    answer = httpx.post(fake.api_url + "auth.test").json()
    assert answer["error"] == "not_authed"
    app_token = {"Authorization": "Bearer xapp-1-x"}
    assert httpx.post(fake.api_url + "auth.test", headers=app_token).json()["ok"] is False
    assert len(fake.violations) == 2


async def test_fail_plan_has_no_effect(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.fail("conversations.create", status=503)
    with pytest.raises(SlackApiError) as exc:
        await client.conversations_create(name="inc-1")
    assert exc.value.response.status_code == 503
    assert slack_error(exc) == "fatal_error"
    assert fake.channels == {}
    await client.conversations_create(name="inc-1")  # the plan was used up
    assert [c.status for c in fake.calls_to("conversations.create")] == [503, 200]


def test_rate_limit_plan(fake: FakeSlack) -> None:
    channel_id = fake.add_channel("incidents")
    fake.rate_limit("chat.postMessage", retry_after=7, times=2)
    headers = {"Authorization": "Bearer xoxb-t"}
    body = {"channel": channel_id, "text": "x"}
    for _ in range(2):
        answer = httpx.post(fake.api_url + "chat.postMessage", json=body, headers=headers)
        assert answer.status_code == 429
        assert answer.headers["Retry-After"] == "7"
        assert answer.json() == {"ok": False, "error": "ratelimited"}
    assert fake.channels[channel_id].messages == []
    assert httpx.post(fake.api_url + "chat.postMessage", json=body, headers=headers).json()["ok"]


async def test_error_and_hang_plans(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.error("conversations.create", "restricted_action")
    with pytest.raises(SlackApiError) as exc:
        await client.conversations_create(name="inc-1")
    assert slack_error(exc) == "restricted_action"
    with pytest.raises(ValueError):
        fake.error("conversations.create", "not_a_slack_error")

    fake.hang("conversations.create", seconds=0.3)
    started = time.monotonic()
    await client.conversations_create(name="inc-1")
    assert time.monotonic() - started >= 0.3
    assert fake.channel_named("inc-1") is not None


async def test_update_permalink_and_ephemeral(fake: FakeSlack, client: AsyncWebClient) -> None:
    channel_id = fake.add_channel("incidents", members=["U0WARBOT", "U01AAA"])
    ts = (await client.chat_postMessage(channel=channel_id, text="SEV2"))["ts"]
    updated = await client.chat_update(channel=channel_id, ts=ts, text="SEV1", blocks=[SECTION])
    assert updated["text"] == "SEV1"
    assert fake.channels[channel_id].messages[0]["blocks"] == [SECTION]
    with pytest.raises(SlackApiError) as exc:
        await client.chat_update(channel=channel_id, ts="1.000001", text="x")
    assert slack_error(exc) == "message_not_found"
    link = (await client.chat_getPermalink(channel=channel_id, message_ts=ts))["permalink"]
    assert link.endswith(f"/archives/{channel_id}/p{ts.replace('.', '')}")
    ephemeral = await client.chat_postEphemeral(channel=channel_id, user="U01AAA", text="only you")
    assert fake.channels[channel_id].ephemeral[0]["ts"] == ephemeral["message_ts"]
    assert fake.violations == []


async def test_pins(fake: FakeSlack, client: AsyncWebClient) -> None:
    channel_id = (await client.conversations_create(name="inc-9"))["channel"]["id"]
    ts = (await client.chat_postMessage(channel=channel_id, text="summary"))["ts"]
    await client.pins_add(channel=channel_id, timestamp=ts)
    with pytest.raises(SlackApiError) as exc:
        await client.pins_add(channel=channel_id, timestamp=ts)
    assert slack_error(exc) == "already_pinned"
    assert [i["message"]["ts"] for i in (await client.pins_list(channel=channel_id))["items"]] == [
        ts
    ]
    await client.pins_remove(channel=channel_id, timestamp=ts)
    with pytest.raises(SlackApiError) as exc:
        await client.pins_remove(channel=channel_id, timestamp=ts)
    assert slack_error(exc) == "no_pin"
    assert fake.violations == []


async def test_history_newest_first_with_metadata_on_request(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    channel_id = fake.add_channel("incidents", members=["U0WARBOT"])
    first = (await client.chat_postMessage(channel=channel_id, text="one", metadata=METADATA))["ts"]
    second = (await client.chat_postMessage(channel=channel_id, text="two"))["ts"]

    plain = (await client.conversations_history(channel=channel_id))["messages"]
    assert [m["ts"] for m in plain] == [second, first]
    assert "metadata" not in plain[1]
    rich = await client.conversations_history(channel=channel_id, include_all_metadata=True)
    assert rich["messages"][1]["metadata"] == METADATA

    page = await client.conversations_history(channel=channel_id, limit=1)
    assert [m["ts"] for m in page["messages"]] == [second] and page["has_more"]
    cursor = page["response_metadata"]["next_cursor"]
    rest = await client.conversations_history(channel=channel_id, limit=1, cursor=cursor)
    assert [m["ts"] for m in rest["messages"]] == [first]
    assert fake.violations == []


async def test_users_info(fake: FakeSlack, client: AsyncWebClient) -> None:
    assert (await client.users_info(user="U01AAA"))["user"]["name"] == "u01aaa"
    with pytest.raises(SlackApiError) as exc:
        await client.users_info(user="nobody")
    assert slack_error(exc) == "user_not_found"


async def test_views(fake: FakeSlack, client: AsyncWebClient) -> None:
    trigger = fake.trigger_id()
    view = (await client.views_open(trigger_id=trigger, view=MODAL))["view"]
    assert view["id"].startswith("V") and view["callback_id"] == "declare"
    with pytest.raises(SlackApiError) as exc:
        await client.views_open(trigger_id=trigger, view=MODAL)
    assert slack_error(exc) == "exchanged_trigger_id"

    too_long = MODAL | {"title": {"type": "plain_text", "text": "x" * 25}}
    with pytest.raises(SlackApiError):
        await client.views_update(view_id=view["id"], view=too_long)
    assert fake.violations[-1].startswith("views.update: view(modal)/title")
    assert len(fake.violations) == 2


def test_response_url(fake: FakeSlack) -> None:
    url = fake.response_url()
    assert httpx.post(url, json={"text": "Declared", "response_type": "in_channel"}).json() == {
        "ok": True
    }
    assert fake.responses_to(url) == [{"text": "Declared", "response_type": "in_channel"}]
    assert fake.violations == []

    httpx.post(url, json={"text": "x", "blocks": [{"type": "nope"}]})
    assert fake.violations == ["response_url: blocks/0: unknown type 'nope'"]
    assert httpx.post(fake.base_url + "/respond/forged", json={"text": "x"}).status_code == 404
    assert len(fake.violations) == 2


def test_connections_open_needs_an_app_token(fake: FakeSlack) -> None:
    answer = WebClient(base_url=fake.api_url).apps_connections_open(app_token="xapp-1-test")
    assert answer["url"] == fake.base_url.replace("http", "ws") + "/socket"
    with pytest.raises(SlackApiError) as exc:
        WebClient(base_url=fake.api_url).apps_connections_open(app_token="xoxb-test")
    assert slack_error(exc) == "invalid_auth"
    assert len(fake.violations) == 1
