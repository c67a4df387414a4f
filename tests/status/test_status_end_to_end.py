"""The status page through the real `warroom serve`: Slack-signed commands in, an alert
webhook in, and `/status`, `/status.json` and `/status.atom` read over HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from xml.etree import ElementTree

import httpx
import pytest

from tests.e2e.conftest import DECLARER, SlackSender, WarroomServer, wait_until
from tests.e2e.test_declare import pinned_card
from tests.support.fake_slack import FakeSlack

TOKEN = "e2e-status-alert-token"
POLICY = """\
status_page:
  title: Acme Status
  components: [{name: Checkout}, {name: API}]
alerts:
  routes:
    - {matchers: ['service="api"'], action: declare, severity: SEV2, component: API}
"""
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def status_server(make_server: Callable[..., WarroomServer], tmp_path: Path) -> WarroomServer:
    policy = tmp_path / "status-policy.yml"
    policy.write_text(POLICY, encoding="utf-8")
    server = make_server(WARROOM_CONFIG=str(policy), WARROOM_ALERT_TOKEN=TOKEN)
    server.start()
    return server


def answer(sender: SlackSender, text: str, channel: str, user: str = DECLARER) -> str:
    response = sender.command(text, channel=channel, user=user)
    assert response.status_code == 200, response.text
    return str(response.json()["text"])


def get(server: WarroomServer, path: str) -> httpx.Response:
    return httpx.get(f"{server.url}{path}", timeout=10)


def test_publishing_an_incident_from_slack(status_server: WarroomServer, slack: FakeSlack) -> None:
    sender = SlackSender(status_server, slack)
    assert get(status_server, "/status.json").json()["active_incidents"] == []

    sender.command("declare sev1 Checkout TITLE-e2e-41 is down")
    channel, _ = pinned_card(slack, "inc-1-checkout-title-e2e-41-is-down")
    here = channel.id
    assert answer(sender, "components Checkout", here) == "✅ INC-1 now names Checkout"
    assert "unknown component 'Billing'; the components are Checkout, API" in answer(
        sender, "components Billing", here
    )
    answer(sender, "note NOTE-e2e-42 primary wedged", here)
    answer(sender, "update UPDATE-e2e-43 internal only", here)
    reply = answer(sender, "update --public Card payments are failing; we are on it", here)
    assert reply.startswith(
        "✅ Update posted and published on the status page (INC-1 is now public)"
    )
    # Posted in the channel as usual, too.
    wait_until(
        lambda: any("Card payments are failing" in str(m) for m in slack.channels[here].messages),
        what="the update in the channel",
    )

    sender.command("declare --private sev1 PRIVATE-e2e-44 leak")
    private, _ = pinned_card(slack, "inc-2-private-e2e-44-leak")
    refusal = answer(sender, "update --public PRIVATE-e2e-45 hello", private.id)
    assert "INC-2 is private: it never appears on the status page, so --public is refused" in (
        refusal
    )

    page = get(status_server, "/status.json")
    assert page.status_code == 200 and page.headers["cache-control"] == "public, max-age=30"
    data = page.json()
    assert data["state"] == "major_outage"
    assert {c["name"]: c["state"] for c in data["components"]} == {
        "Checkout": "major_outage",
        "API": "operational",
    }
    (incident,) = data["active_incidents"]
    assert incident["title"] == "Incident affecting Checkout"
    assert [u["text"] for u in incident["updates"]] == ["Card payments are failing; we are on it"]
    html = get(status_server, "/status")
    assert html.headers["content-type"] == "text/html; charset=utf-8"
    head = httpx.head(f"{status_server.url}/status", timeout=10)
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["etag"] == html.headers["etag"]
    assert '<link rel="alternate" type="application/atom+xml"' in html.text
    feed = get(status_server, "/status.atom")
    entries = ElementTree.fromstring(feed.content).findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}content") for e in entries] == [
        "Card payments are failing; we are on it"
    ]
    for body in (page.text, html.text, feed.text):
        for internal in (
            "TITLE-e2e-41", "NOTE-e2e-42", "UPDATE-e2e-43", "PRIVATE-e2e-44", "PRIVATE-e2e-45",
            DECLARER, here, private.id, "INC-1", "INC-2", "SEV1",
        ):  # fmt: skip
            assert internal not in body

    assert answer(sender, "resolve --public Payments work again", here).startswith(
        "✅ INC-1 resolved after"
    )
    data = get(status_server, "/status.json").json()
    assert data["active_incidents"] == [] and data["state"] == "operational"
    (resolved,) = data["resolved_incidents"]
    assert resolved["updates"][0]["text"] == "Payments work again"


def test_an_alert_route_names_the_component(status_server: WarroomServer, slack: FakeSlack) -> None:
    sent = httpx.post(
        f"{status_server.url}/alerts/generic",
        content=json.dumps(
            {"title": "API 5xx ALERT-e2e-46", "service": "api", "labels": {"service": "api"}}
        ),
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        timeout=10,
    )
    assert sent.status_code == 200, sent.text
    assert sent.json()["incident"] == "INC-1"
    sender = SlackSender(status_server, slack)
    channel = wait_until(
        lambda: next((c for c in slack.channels.values() if c.name.startswith("inc-1-")), None),
        what="the alert's incident channel",
    )
    assert answer(sender, "components", channel.id).startswith("*INC-1* names API.")
    # Named, not published: the page stays as it was until someone posts for the public.
    assert get(status_server, "/status.json").json()["active_incidents"] == []
    answer(sender, "update --public Errors on the API; investigating", channel.id)
    data = get(status_server, "/status.json").json()
    assert {c["name"]: c["state"] for c in data["components"]}["API"] == "partial_outage"
    assert "ALERT-e2e-46" not in get(status_server, "/status").text


def test_without_a_status_page_the_pages_are_404(
    make_server: Callable[..., WarroomServer],
) -> None:
    server = make_server()
    server.start()
    assert get(server, "/status").status_code == 404
    assert get(server, "/status.json").json()["error"] == "status_page_not_configured"
    assert get(server, "/status.atom").status_code == 404
