"""Socket Mode with a bot token and an app token only: Slack never calls in, so there is no
request to verify and no signing secret to ask for."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.e2e.conftest import APP_TOKEN, SlackSender, WarroomServer, wait_until
from tests.support.fake_slack import FakeSlack


def test_socket_mode_needs_no_signing_secret(
    make_server: Callable[..., WarroomServer], slack: FakeSlack
) -> None:
    server = make_server(SLACK_APP_TOKEN=APP_TOKEN, SLACK_SIGNING_SECRET=None)
    server.start()
    wait_until(slack.socket_connected.is_set, what="the Socket Mode connection")
    payload = SlackSender(server, slack).command_body("declare sev2 Checkout errors")
    ack = slack.socket_request("slash_commands", payload, timeout=5)
    assert ack["payload"]["text"].startswith("Declaring INC-1 (SEV2) Checkout errors")
    wait_until(
        lambda: (c := slack.channel_named("inc-1-checkout-errors")) and c.pins,
        what="the pinned card",
    )
    assert httpx.get(f"{server.url}/readyz").json()["slack"] == "configured"
    # Over HTTP there is nothing to verify a request with: refused, and said why.
    refused = httpx.post(f"{server.url}/slack/events", content=b"command=/incident")
    assert refused.status_code == 503
    assert refused.json()["missing"] == ["SLACK_SIGNING_SECRET"]
    log = server.log()
    assert "Slack is not configured" not in log
    assert "token will be unused" not in log  # slack_bolt's warning, on every start
