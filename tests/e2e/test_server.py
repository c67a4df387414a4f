"""The server around the bot: health, readiness, no-Slack start, Socket Mode."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.e2e.conftest import APP_TOKEN, DECLARER, SlackSender, WarroomServer, wait_until
from tests.support.fake_slack import FakeSlack


def test_health_and_readiness(server: WarroomServer) -> None:
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{server.url}/readyz").json()
    assert ready["status"] == "ready" and ready["database"] == "ok"
    assert ready["slack"] == "configured" and ready["pending_deliveries"] == 0


def test_starts_without_slack_and_says_what_to_set(
    make_server: Callable[..., WarroomServer],
) -> None:
    bare = make_server(SLACK_BOT_TOKEN=None, SLACK_SIGNING_SECRET=None)
    bare.start()
    assert httpx.get(f"{bare.url}/healthz").status_code == 200
    assert httpx.get(f"{bare.url}/readyz").json()["slack"] == "not configured"
    refused = httpx.post(f"{bare.url}/slack/events", content=b"command=/incident")
    assert refused.status_code == 503
    assert refused.json()["missing"] == ["SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"]
    log = bare.log()
    assert "Slack is not configured: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET" in log
    assert "manifest.yml" in log


def test_declare_over_socket_mode(
    make_server: Callable[..., WarroomServer], slack: FakeSlack
) -> None:
    server = make_server(SLACK_APP_TOKEN=APP_TOKEN)
    server.start()
    wait_until(slack.socket_connected.is_set, what="the Socket Mode connection")
    payload = SlackSender(server, slack).command_body("declare sev2 Checkout errors")
    ack = slack.socket_request("slash_commands", payload, timeout=5)
    assert ack["payload"]["text"].startswith("Declaring INC-1 (SEV2) Checkout errors")
    channel = wait_until(
        lambda: (c := slack.channel_named("inc-1-checkout-errors")) and c.pins and c,
        what="the pinned card",
    )
    wait_until(lambda: DECLARER in channel.members, what="the declarer invited")
