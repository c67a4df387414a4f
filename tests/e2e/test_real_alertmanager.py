"""A real Prometheus Alertmanager firing at the real `warroom serve`, which talks to the
fake Slack: what Alertmanager actually sends (its grouping, its timing, its resolved
bodies, its bearer token) and what it does with the silence warroom asks it for.

The fixture bodies in tests/fixtures/alertmanager/ were captured from this same version;
this test catches the day they stop being what Alertmanager sends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import postgres_admin_url
from tests.e2e.conftest import SlackSender, WarroomServer, free_port, wait_until
from tests.support.alertmanager import Alertmanager, require_binary
from tests.support.fake_slack import FakeChannel, FakeSlack

pytestmark = pytest.mark.skipif(
    postgres_admin_url() is not None,
    reason="Alertmanager's side does not depend on the database: checked once, on the SQLite run",
)

TOKEN = "e2e-real-alertmanager-token"
CHANNEL = "inc-1-higherrorrate-on-checkout"
RESPONDER = "U0RESPONDER"
FIRST = {
    "alertname": "HighErrorRate",
    "service": "checkout",
    "severity": "critical",
    "instance": "a",
}
SECOND = FIRST | {"instance": "b"}
GROUP_MATCHERS = {("alertname", "HighErrorRate"), ("service", "checkout")}
# Alertmanager's group_wait and group_interval (1s each), the notification's round trip,
# the 1s coalescing and Slack deliveries, with room for a slow CI machine.
ALERT_TIMEOUT = 45.0


@dataclass
class Stack:
    warroom: WarroomServer
    alertmanager: Alertmanager
    slack: FakeSlack

    @property
    def sender(self) -> SlackSender:
        return SlackSender(self.warroom, self.slack)


@pytest.fixture
def alertmanager_binary() -> Path:
    return require_binary()


@pytest.fixture
def stack(
    alertmanager_binary: Path,  # first: without it, skip before starting anything
    make_server: Callable[..., WarroomServer],
    slack: FakeSlack,
    tmp_path: Path,
) -> Iterator[Stack]:
    # Each needs the other's address: the policy names Alertmanager's port before it
    # runs, and Alertmanager is configured once warroom serves on its own port.
    alertmanager_port = free_port()
    policy = tmp_path / "policy.yml"
    policy.write_text(
        "alerts:\n"
        "  coalesce: 1s\n"
        "  sources:\n"
        "    alertmanager:\n"
        f"      alertmanager_url: http://127.0.0.1:{alertmanager_port}\n"
    )
    warroom = make_server(WARROOM_ALERT_TOKEN=TOKEN, WARROOM_CONFIG=str(policy))
    warroom.start()
    directory = tmp_path / "alertmanager"
    directory.mkdir()
    alertmanager = Alertmanager(
        binary=alertmanager_binary,
        directory=directory,
        webhook_url=f"{warroom.url}/alerts/alertmanager",
        token=TOKEN,
        port=alertmanager_port,
    )
    alertmanager.start()
    try:
        yield Stack(warroom, alertmanager, slack)
    finally:
        alertmanager.stop()


def blocks_text(message: dict[str, Any]) -> str:
    """Every text of a message's sections and context lines, as Slack shows them."""
    texts: list[str] = []
    for block in message.get("blocks", []):
        if block["type"] == "section":
            texts.append(block["text"]["text"])
        elif block["type"] == "context":
            texts.extend(element.get("text", "") for element in block["elements"])
    return "\n".join(texts)


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for b in message.get("blocks", []) if b["type"] == "actions" for e in b["elements"]]


def card_of(channel: FakeChannel) -> dict[str, Any]:
    (ts,) = channel.pins
    card = channel.message(ts)
    assert card is not None
    return card


def opened_channel(slack: FakeSlack) -> FakeChannel:
    def pinned() -> FakeChannel | None:
        channel = slack.channel_named(CHANNEL)
        return channel if channel is not None and channel.pins else None

    found: FakeChannel = wait_until(
        pinned, timeout=ALERT_TIMEOUT, what=f"#{CHANNEL} with its pinned card"
    )
    return found


def card_says(channel: FakeChannel, text: str) -> dict[str, Any]:
    card: dict[str, Any] = wait_until(
        lambda: (card := card_of(channel)) and text in blocks_text(card) and card,
        timeout=ALERT_TIMEOUT,
        what=f"the card to say {text!r}",
    )
    return card


def messages_saying(channel: FakeChannel, text: str) -> list[dict[str, Any]]:
    return [m for m in channel.messages if text in blocks_text(m)]


def incident_channels(slack: FakeSlack) -> list[FakeChannel]:
    return [c for c in slack.channels.values() if c.name.startswith("inc-")]


def test_alertmanager_groups_open_one_incident_attach_and_resolve(stack: Stack) -> None:
    alertmanager, slack = stack.alertmanager, stack.slack
    alertmanager.add_alert(**FIRST)
    channel = opened_channel(slack)
    card = card_says(channel, "*Alerts*: 1 firing, 0 resolved")
    assert "Incident declared as SEV1 by Alertmanager" in blocks_text(card)

    alertmanager.add_alert(**SECOND)
    card_says(channel, "*Alerts*: 2 firing, 0 resolved")
    (digest,) = wait_until(
        lambda: messages_saying(channel, "1 new firing"),
        timeout=ALERT_TIMEOUT,
        what="the digest of the second alert",
    )
    assert "*Alerts now*: 2 firing, 0 resolved" in blocks_text(digest)
    assert [c.name for c in incident_channels(slack)] == [CHANNEL]
    assert len(slack.calls_to("conversations.create")) == 1

    alertmanager.resolve(FIRST)
    card_says(channel, "*Alerts*: 1 firing, 1 resolved")
    # Alertmanager has notified the first resolution and dropped it from the group: the
    # group's resolved body will carry the last alert only.
    alertmanager.resolve(SECOND)
    wait_until(
        lambda: messages_saying(channel, "All alerts resolved"),
        timeout=ALERT_TIMEOUT,
        what="the all-resolved message",
    )
    card_says(channel, "*Alerts*: 0 firing, 2 resolved")
    # Nothing more to come: Alertmanager has had its last notification accepted (the
    # group empties then), and warroom has carried out all it owed.
    wait_until(
        lambda: not alertmanager.groups(),
        timeout=ALERT_TIMEOUT,
        what="Alertmanager to have delivered the group's resolution",
    )
    stack.warroom.wait_quiet()
    (resolved,) = messages_saying(channel, "All alerts resolved")
    assert [b["text"]["text"] for b in buttons(resolved)] == ["Resolve incident"]
    assert [c.name for c in incident_channels(slack)] == [CHANNEL]
    assert len(slack.calls_to("conversations.create")) == 1


def test_silence_1h_from_the_card_creates_a_silence_alertmanager_applies(stack: Stack) -> None:
    alertmanager, slack = stack.alertmanager, stack.slack
    alertmanager.add_alert(**FIRST)
    alertmanager.add_alert(**SECOND)
    channel = opened_channel(slack)
    card = card_says(channel, "*Alerts*: 2 firing, 0 resolved")
    silence = next((b for b in buttons(card) if b["action_id"] == "incident.silence"), None)
    assert silence is not None, buttons(card)
    assert (silence["text"]["text"], silence["value"]) == ("Silence 1h", "1:1h")

    pressed_at = datetime.now(UTC)
    response, response_url = stack.sender.action(
        "incident.silence", "1:1h", user=RESPONDER, channel=channel.id, message_ts=card["ts"]
    )
    assert response.status_code == 200, response.text

    (created,) = wait_until(
        alertmanager.silences, timeout=ALERT_TIMEOUT, what="a silence at Alertmanager"
    )
    assert created["status"]["state"] == "active"
    assert {(m["name"], m["value"]) for m in created["matchers"]} == GROUP_MATCHERS
    assert all(m["isEqual"] and not m["isRegex"] for m in created["matchers"])
    ends_at = datetime.fromisoformat(created["endsAt"].replace("Z", "+00:00"))
    assert abs(ends_at - (pressed_at + timedelta(hours=1))) < timedelta(minutes=1)
    assert RESPONDER in created["createdBy"]
    assert "INC-1" in created["comment"]

    (told,) = wait_until(
        lambda: messages_saying(channel, "🔕 The alerts of *INC-1* are silenced at Alertmanager"),
        timeout=ALERT_TIMEOUT,
        what="the channel told of the silence",
    )
    assert f"by <@{RESPONDER}>" in blocks_text(told)
    (reply,) = wait_until(
        lambda: slack.responses_to(response_url), timeout=ALERT_TIMEOUT, what="the answer"
    )
    assert reply["text"].startswith("🔕 Silencing its alert group of INC-1 at Alertmanager")
    assert reply["response_type"] == "ephemeral"
    card_says(channel, f"*Silenced*: until {ends_at:%H:%M} UTC by <@{RESPONDER}>")

    # Alertmanager applies it: both alerts of the group are muted by this silence.
    def suppressed() -> bool:
        alerts = alertmanager.alerts()
        return len(alerts) == 2 and all(
            a["status"]["state"] == "suppressed" and a["status"]["silencedBy"] == [created["id"]]
            for a in alerts
        )

    wait_until(suppressed, timeout=ALERT_TIMEOUT, what="both alerts silenced at Alertmanager")
    stack.warroom.wait_quiet()
    assert len(alertmanager.silences()) == 1
    assert len(slack.calls_to("conversations.create")) == 1
