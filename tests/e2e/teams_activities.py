"""Talking to warroom as Teams does, for the end-to-end tests: the fake identity provider
and Bot Connector as fixtures, activities as Teams sends them, and their signed delivery
to `POST /api/messages`."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import WarroomServer
from tests.support.fake_bot_connector import FakeBotConnector
from tests.support.fake_teams_identity import FakeTeamsIdentity

APP_ID = "00000000-0000-4000-8000-00000000b07a"
BOT = f"28:{APP_ID}"
TENANT = "11111111-2222-4333-8444-555555555555"
TEAM = "19:team-general@thread.tacv2"
CHANNEL = "19:incidents-room@thread.tacv2"
ALEX = "aaaaaaaa-0000-4000-8000-000000000001"
_ids = itertools.count(1_600_000_000_000)  # people's posts; the fake numbers its own


@pytest.fixture(scope="module")
def identity() -> Iterator[FakeTeamsIdentity]:
    with FakeTeamsIdentity(app_id=APP_ID) as fake:
        yield fake


@pytest.fixture
def connector(identity: FakeTeamsIdentity) -> Iterator[FakeBotConnector]:
    fake = FakeBotConnector(accept=lambda token: token in identity.issued_tokens, bot_id=APP_ID)
    fake.start()
    fake.add_channel(channel_id=CHANNEL, team_id=TEAM, name="Incidents")
    yield fake
    assert fake.violations == [], "the app sent what the Bot Connector would refuse"
    fake.stop()


def teams_settings(identity: FakeTeamsIdentity) -> dict[str, str]:
    """Teams on, its identity endpoints at the fake provider."""
    return {
        "WARROOM_TEAMS_APP_ID": APP_ID,
        "WARROOM_TEAMS_APP_PASSWORD": identity.password,
        "WARROOM_TEAMS_OPENID_METADATA_URL": identity.metadata_url,
        "WARROOM_TEAMS_TOKEN_URL": identity.token_url,
    }


@pytest.fixture
def teams_server(
    make_server: Callable[..., WarroomServer],
    identity: FakeTeamsIdentity,
    connector: FakeBotConnector,
) -> WarroomServer:
    server = make_server(**teams_settings(identity), WARROOM_TEAMS_TENANT_ID=TENANT)
    server.start()
    return server


def message(connector: FakeBotConnector, text: str, *, user: str = ALEX) -> dict[str, Any]:
    """`@warroom <text>` posted in the incidents channel (a new post: its own thread)."""
    post = str(next(_ids))
    return {
        "type": "message",
        "id": post,
        "channelId": "msteams",
        "serviceUrl": connector.service_url,
        "from": {"id": f"29:{user}", "name": "Alex Doe", "aadObjectId": user},
        "recipient": {"id": BOT, "name": "warroom"},
        "conversation": {
            "id": f"{CHANNEL};messageid={post}",
            "conversationType": "channel",
            "tenantId": TENANT,
            "isGroup": True,
        },
        "channelData": {
            "channel": {"id": CHANNEL},
            "team": {"id": TEAM},
            "tenant": {"id": TENANT},
        },
        "text": f"<at>warroom</at> {text}",
        "entities": [
            {
                "type": "mention",
                "text": "<at>warroom</at>",
                "mentioned": {"id": BOT, "name": "warroom"},
            }
        ],
    }


def invoke(
    connector: FakeBotConnector, conversation_id: str, verb: str, data: dict[str, Any]
) -> dict[str, Any]:
    activity = message(connector, "")
    activity.update(
        type="invoke",
        name="adaptiveCard/action",
        value={"action": {"type": "Action.Execute", "verb": verb, "data": data}},
        conversation={"id": conversation_id, "conversationType": "channel", "tenantId": TENANT},
    )
    activity.pop("text")
    activity.pop("entities")
    return activity


def send(
    server: WarroomServer,
    identity: FakeTeamsIdentity,
    activity: dict[str, Any],
    *,
    token: str | None = "good",
) -> httpx.Response:
    headers = {"content-type": "application/json"}
    if token == "good":
        token = identity.mint(APP_ID, service_url=activity.get("serviceUrl"))
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    return httpx.post(
        f"{server.url}/api/messages", content=json.dumps(activity), headers=headers, timeout=10
    )


def bot_threads(connector: FakeBotConnector) -> list[Any]:
    """Threads the bot started (a reply to a person's post makes theirs known too)."""
    return [thread for thread in connector.threads() if thread.root.from_bot]


def reply_texts(connector: FakeBotConnector) -> list[str]:
    return [str(call.body.get("text", "")) for call in connector.calls_to("send") if call.body]


def in_conversation(activity: dict[str, Any], conversation_id: str) -> dict[str, Any]:
    """The activity as sent from within a conversation (an incident's thread)."""
    activity["conversation"] = {
        "id": conversation_id,
        "conversationType": "channel",
        "tenantId": TENANT,
    }
    return activity
