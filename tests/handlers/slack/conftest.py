"""In-process tests of the Slack glue: Bolt dispatches signed requests straight to the
listeners of a real composition root (database, core), with FakeChat behind the chat
port and the fake Slack answering Bolt's own calls and the response_urls."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.app import Warroom, build, create_app
from bot.chat.fake import FakeChat
from bot.config import Settings
from bot.policy.schema import default_policy
from tests.conftest import SPECS_DIR, SteppingClock
from tests.support.fake_slack import FakeSlack
from tests.support.slack_requests import (
    button_payload,
    command_fields,
    event_body,
    form_body,
    interaction_body,
    signed_headers,
)

SECRET = "glue-signing-secret"
DECLARER = "U0DECLARER"


@dataclass
class Reply:
    status: int
    body: dict[str, Any]

    @property
    def text(self) -> str:
        return str(self.body.get("text", ""))


@dataclass
class Glue:
    warroom: Warroom
    slack: FakeSlack
    chat: FakeChat

    async def send(self, body: bytes, content_type: str) -> Reply:
        assert self.warroom.bolt is not None
        headers = signed_headers(SECRET, body, content_type=content_type)
        response = await self.warroom.bolt.async_dispatch(
            AsyncBoltRequest(body=body.decode(), headers=headers)
        )
        parsed = json.loads(response.body) if response.body.startswith("{") else {}
        return Reply(response.status, parsed)

    async def send_checked(self, body: bytes) -> int:
        """Through the app's door (size, signature, shape) and then Bolt: the status."""
        app = create_app(warroom=self.warroom)
        transport = httpx.ASGITransport(app=app)
        headers = signed_headers(SECRET, body, content_type="application/x-www-form-urlencoded")
        async with httpx.AsyncClient(transport=transport, base_url="http://warroom") as client:
            response = await client.post("/slack/events", content=body, headers=headers)
        return response.status_code

    async def command(
        self, text: str, *, user: str = DECLARER, channel: str = "C0GENERAL"
    ) -> tuple[Reply, str]:
        url = self.slack.response_url()
        fields = command_fields(text, user=user, channel=channel, response_url=url)
        return await self.send(form_body(fields), "application/x-www-form-urlencoded"), url

    async def press(self, action_id: str, value: str, **kwargs: Any) -> tuple[Reply, str]:
        url = self.slack.response_url()
        payload = button_payload(action_id, value, response_url=url, **kwargs)
        return await self.interaction(payload), url

    async def interaction(self, payload: dict[str, Any]) -> Reply:
        return await self.send(interaction_body(payload), "application/x-www-form-urlencoded")

    async def event(self, event: dict[str, Any], *, event_id: str | None = None) -> Reply:
        return await self.send(event_body(event, event_id=event_id), "application/json")

    async def settled(self) -> None:
        """Until the follow-up work of every request so far has finished."""
        await self.warroom.follow_ups.idle()


@pytest.fixture(scope="session")
def glue_slack() -> Iterator[FakeSlack]:
    with FakeSlack(SPECS_DIR) as fake:
        yield fake


@pytest.fixture
async def glue(
    glue_slack: FakeSlack, database_url: str, clock: SteppingClock
) -> AsyncIterator[Glue]:
    glue_slack.reset()
    chat = FakeChat()
    settings = Settings(
        _env_file=None,
        database_url=database_url,
        slack_bot_token="xoxb-glue-token",
        slack_signing_secret=SECRET,
        slack_api_url=glue_slack.api_url,
        post_interval_seconds=0,
    )
    warroom = build(settings, chat=chat, clock=clock, policy=default_policy())
    yield Glue(warroom, glue_slack, chat)
    await warroom.follow_ups.close()
    await warroom.http.aclose()
    warroom.db.dispose()
    assert glue_slack.violations == [], "the glue made calls Slack would reject"
