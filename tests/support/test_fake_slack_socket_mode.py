"""The fake Slack's Socket Mode: envelopes out, acks back, checked like the real one's."""

from __future__ import annotations

import asyncio
import json

import pytest
from slack_sdk import WebClient
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.socket_mode.websockets import SocketModeClient as AsyncSocketModeClient
from slack_sdk.web.async_client import AsyncWebClient

from .fake_slack import FakeSlack


def test_socket_mode_round_trip(fake: FakeSlack) -> None:
    received: list[SocketModeRequest] = []

    def listener(client: SocketModeClient, request: SocketModeRequest) -> None:
        received.append(request)
        ack = SocketModeResponse(request.envelope_id, payload={"text": "Declaring..."})
        client.send_socket_mode_response(ack)

    client = SocketModeClient(app_token="xapp-1-test", web_client=WebClient(base_url=fake.api_url))
    client.socket_mode_request_listeners.append(listener)  # type: ignore[arg-type]
    client.connect()
    try:
        assert fake.socket_connected.wait(5)
        command = {"command": "/incident", "text": "declare checkout down", "user_id": "U01AAA"}
        ack = fake.socket_request("slash_commands", command)
        assert ack["payload"] == {"text": "Declaring..."}
        assert received[0].type == "slash_commands" and received[0].payload == command
        assert ack["envelope_id"] == received[0].envelope_id
    finally:
        client.close()
    assert fake.violations == []


async def test_socket_request_async_and_missing_ack(fake: FakeSlack) -> None:
    from websockets.asyncio.client import connect

    async with connect(fake.base_url.replace("http", "ws") + "/socket") as ws:
        hello = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert hello["type"] == "hello"
        assert hello["connection_info"] == {"app_id": "A0WARROOM"}
        event = {"event": {"type": "app_mention"}}
        pending = asyncio.create_task(fake.socket_request_async("events_api", event))
        request = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert request["type"] == "events_api" and request["accepts_response_payload"]
        await ws.send(json.dumps({"envelope_id": request["envelope_id"]}))
        assert (await pending)["envelope_id"] == request["envelope_id"]

        with pytest.raises(TimeoutError):
            await fake.socket_request_async("interactive", {"type": "block_actions"}, timeout=0.2)
    assert fake.violations == ["socket mode: interactive envelope not acked within 0.2s"]


async def test_async_socket_mode_client_round_trip(fake: FakeSlack) -> None:
    """The async client Bolt's AsyncSocketModeHandler builds on, on the test's own loop."""
    received: list[SocketModeRequest] = []

    async def listener(client: AsyncSocketModeClient, request: SocketModeRequest) -> None:
        received.append(request)
        await client.send_socket_mode_response(SocketModeResponse(request.envelope_id))

    web = AsyncWebClient(base_url=fake.api_url)
    client = AsyncSocketModeClient(app_token="xapp-1-test", web_client=web)
    client.socket_mode_request_listeners.append(listener)  # type: ignore[arg-type]
    await client.connect()  # type: ignore[no-untyped-call]
    try:
        payload = {"type": "view_submission", "view": {"callback_id": "declare"}}
        ack = await fake.socket_request_async("interactive", payload)
        assert ack == {"envelope_id": received[0].envelope_id}
        assert fake.calls_to("apps.connections.open")[0].token == "xapp-1-test"

        # Slack asks for a reconnect now and then: the client fetches a new URL and moves over.
        await asyncio.to_thread(fake.socket_disconnect)
        assert await asyncio.to_thread(fake.socket_connected.wait, 5)
        assert len(fake.calls_to("apps.connections.open")) == 2
        await fake.socket_request_async("events_api", {"event": {"type": "app_mention"}})
        assert len(received) == 2
    finally:
        await client.close()  # type: ignore[no-untyped-call]
    assert fake.violations == []
