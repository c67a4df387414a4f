"""Alert webhooks through the real server: Alertmanager's own bodies in the order it sent
them, bad input of every kind, Grafana's signature, and warroom's generic JSON."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.conftest import PROJECT_ROOT
from tests.e2e.conftest import SlackSender, WarroomServer, wait_until
from tests.support.fake_slack import FakeChannel, FakeSlack

FIXTURES = PROJECT_ROOT / "tests" / "fixtures"
TOKEN = "e2e-alert-token"
BEARER = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
HMAC_SECRET = "e2e-grafana-hmac"
CHANNEL = "inc-1-higherrorrate-on-checkout"
POLICY = """
alerts:
  coalesce: 1s
  sources:
    grafana: {hmac_secret_env: E2E_GRAFANA_HMAC}
"""


def body(name: str) -> bytes:
    return (FIXTURES / "alertmanager" / name).read_bytes()


def rows(database_url: str, query: str) -> list[Any]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(text(query)))
    finally:
        engine.dispose()


def section_text(message: dict[str, Any]) -> str:
    return "\n".join(b["text"]["text"] for b in message["blocks"] if b["type"] == "section")


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]


def card_of(channel: FakeChannel) -> dict[str, Any]:
    (ts,) = channel.pins
    card = channel.message(ts)
    assert card is not None
    return card


@pytest.fixture
def alert_server(make_server: Callable[..., WarroomServer], tmp_path: Path) -> WarroomServer:
    policy = tmp_path / "policy.yml"
    policy.write_text(POLICY)
    server = make_server(
        WARROOM_ALERT_TOKEN=TOKEN, WARROOM_CONFIG=str(policy), E2E_GRAFANA_HMAC=HMAC_SECRET
    )
    server.start()
    return server


def send(server: WarroomServer, path: str, content: bytes, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{server.url}{path}", content=content, headers={**BEARER, **headers}, timeout=10
    )


def test_alertmanager_bodies_in_order_open_attach_and_resolve_one_incident(
    alert_server: WarroomServer, slack: FakeSlack, database_url: str
) -> None:
    first = send(alert_server, "/alerts/alertmanager", body("01-firing-one-alert.json"))
    assert first.status_code == 200, first.text
    assert first.json() | {"group": 0} == {
        "ok": True, "group": 0, "action": "declare", "incident": "INC-1", "new": 1,
        "resolved": 0, "firing_again": 0, "changed": True,
    }  # fmt: skip
    # Stored before the answer: the alert is in the database already.
    assert rows(database_url, "SELECT fingerprint, status FROM alert") == [
        ("a24103132a36d2fa", "firing")
    ]
    channel = wait_until(lambda: (c := slack.channel_named(CHANNEL)) and c.pins and c)
    card = section_text(card_of(channel))
    assert "*Alerts*: 1 firing, 0 resolved" in card
    assert "<http://prometheus.local/graph?g0.expr=foo|graph>" in card
    assert "Incident declared as SEV1 by Alertmanager" in card
    announce = wait_until(lambda: slack.channels["C0ANNOUNCE"].messages)
    assert "*INC-1* declared (SEV1): HighErrorRate on checkout" in section_text(announce[0])

    second = send(alert_server, "/alerts/alertmanager", body("02-firing-two-alerts.json"))
    assert (second.json()["incident"], second.json()["new"]) == ("INC-1", 1)
    wait_until(
        lambda: "2 firing, 0 resolved" in section_text(card_of(channel)), what="the card: 2 firing"
    )
    digest = wait_until(lambda: [m for m in channel.messages[1:] if "alerts:" in str(m)])
    assert "1 new firing" in section_text(digest[0])

    third = send(alert_server, "/alerts/alertmanager", body("03-one-resolved-one-firing.json"))
    assert third.json()["resolved"] == 1
    wait_until(lambda: "1 firing, 1 resolved" in section_text(card_of(channel)))
    # The resolved group's body carries only its last alert: state is per fingerprint.
    fourth = send(
        alert_server, "/alerts/alertmanager", body("04-group-resolved-last-alert-only.json")
    )
    assert fourth.json()["resolved"] == 1
    resolved = wait_until(
        lambda: [m for m in channel.messages if "All alerts resolved" in str(m)],
        what="the all-resolved message",
    )
    assert [b["text"]["text"] for b in buttons(resolved[0])] == ["Resolve incident"]
    wait_until(lambda: "0 firing, 2 resolved" in section_text(card_of(channel)))

    # Alertmanager re-sends identical bodies after a slow answer: nothing changes.
    alert_server.wait_quiet()
    posted = len(slack.calls_to("chat.postMessage"))
    again = send(
        alert_server, "/alerts/alertmanager", body("04-group-resolved-last-alert-only.json")
    )
    assert again.json()["changed"] is False
    alert_server.wait_quiet()
    assert len(slack.calls_to("chat.postMessage")) == posted
    assert len([c for c in slack.channels.values() if c.name.startswith("inc-")]) == 1
    assert rows(database_url, "SELECT count(*) FROM alert") == [(2,)]


def test_resolve_incident_from_the_all_resolved_message(
    alert_server: WarroomServer, slack: FakeSlack, database_url: str
) -> None:
    for name in ("02-firing-two-alerts.json", "04-group-resolved-last-alert-only.json"):
        assert send(alert_server, "/alerts/alertmanager", body(name)).status_code == 200
    send(
        alert_server,
        "/alerts/alertmanager",
        json.dumps(
            json.loads(body("03-one-resolved-one-firing.json"))
            | {"alerts": [json.loads(body("03-one-resolved-one-firing.json"))["alerts"][0]]}
        ).encode(),
    )
    channel = wait_until(lambda: (c := slack.channel_named(CHANNEL)) and c.pins and c)
    message = wait_until(
        lambda: next((m for m in channel.messages if "All alerts resolved" in str(m)), None)
    )
    (button,) = buttons(message)
    response, _ = SlackSender(alert_server, slack).action(
        button["action_id"], button["value"], user="U0RESPONDER", channel=channel.id,
        message_ts=message["ts"],
    )  # fmt: skip
    assert response.status_code == 200
    wait_until(
        lambda: rows(database_url, "SELECT status FROM incident") == [("resolved",)],
        what="the incident resolved",
    )
    wait_until(lambda: any("[RESOLVED] INC-1" in str(m) for m in channel.messages))


def test_a_warning_is_a_triage_card_with_its_truncated_count(
    alert_server: WarroomServer, slack: FakeSlack
) -> None:
    answer = send(alert_server, "/alerts/alertmanager", body("05-truncated-max-alerts-2.json"))
    assert (answer.json()["action"], answer.json()["incident"]) == ("notify", None)
    announce = slack.channels["C0ANNOUNCE"]
    (card,) = wait_until(lambda: announce.messages, what="the triage card")
    shown = section_text(card)
    assert card["blocks"][0]["text"]["text"] == "🔔 Alert: DiskFull on db"
    assert "2 firing, 0 resolved · 1 not sent by the source" in shown
    assert [b["text"]["text"] for b in buttons(card)] == ["Declare incident", "Ignore"]
    declare = buttons(card)[0]
    SlackSender(alert_server, slack).action(
        declare["action_id"], declare["value"], user="U0TRIAGER", channel="C0ANNOUNCE",
        message_ts=card["ts"],
    )  # fmt: skip
    channel = wait_until(
        lambda: (c := slack.channel_named("inc-1-diskfull-on-db")) and c.pins and c
    )
    wait_until(lambda: "U0TRIAGER" in channel.members, what="the triager invited")
    wait_until(lambda: "Declared as *INC-1*" in section_text(announce.messages[0]))


def test_bad_deliveries_get_the_right_status_and_store_nothing(
    alert_server: WarroomServer, database_url: str
) -> None:
    good = body("01-firing-one-alert.json")
    url = f"{alert_server.url}/alerts/alertmanager"
    assert httpx.post(url, content=good).status_code == 401
    wrong = httpx.post(url, content=good, headers={"Authorization": "Bearer nope"})
    assert (wrong.status_code, wrong.json()["error"]) == (401, "unauthorized")
    huge = send(alert_server, "/alerts/alertmanager", b"[" + b" " * (1024 * 1024) + b"]")
    assert (huge.status_code, huge.json()["error"]) == (413, "request_too_large")
    broken = send(alert_server, "/alerts/alertmanager", b'{"receiver": ')
    assert (broken.status_code, broken.json()["error"]) == (400, "invalid_json")
    document = json.loads(good)
    document["alerts"][0]["labels"] = "not labels"
    shape = send(alert_server, "/alerts/alertmanager", json.dumps(document).encode())
    assert shape.status_code == 422
    assert shape.json()["field"] == "alerts.0.labels"
    grafana_body = send(alert_server, "/alerts/grafana", good)  # unsigned
    assert grafana_body.status_code == 401
    for response in (wrong, huge, broken, shape, grafana_body):
        assert "Traceback" not in response.text
    assert rows(database_url, "SELECT count(*) FROM alert_group") == [(0,)]


def test_without_a_token_the_alert_routes_are_closed(
    make_server: Callable[..., WarroomServer],
) -> None:
    server = make_server(WARROOM_ALERT_TOKEN=None)
    server.start()
    answer = httpx.post(f"{server.url}/alerts/generic", content=b"{}")
    assert answer.status_code == 503
    assert "WARROOM_ALERT_TOKEN" in answer.json()["detail"]


def test_grafana_with_a_good_and_a_bad_signature(
    alert_server: WarroomServer, slack: FakeSlack
) -> None:
    content = (FIXTURES / "grafana" / "firing.json").read_bytes()
    signature = hmac.new(HMAC_SECRET.encode(), content, hashlib.sha256).hexdigest()
    bad = send(
        alert_server, "/alerts/grafana", content, **{"X-Grafana-Alerting-Signature": "0" * 64}
    )
    assert bad.status_code == 401
    good = send(
        alert_server, "/alerts/grafana", content, **{"X-Grafana-Alerting-Signature": signature}
    )
    assert good.status_code == 200, good.text
    assert good.json()["new"] >= 1


def test_generic_firing_then_resolved(
    alert_server: WarroomServer, slack: FakeSlack, database_url: str
) -> None:
    alert = {
        "title": "Payments API down",
        "severity": "critical",
        "service": "payments",
        "dedup_key": "payments-down",
        "links": [{"title": "Dashboard", "url": "https://grafana.example/d/payments"}],
        "description": "health check failing from 3 regions",
    }
    firing = send(alert_server, "/alerts/generic", json.dumps(alert).encode())
    assert (firing.status_code, firing.json()["incident"]) == (200, "INC-1")
    channel = wait_until(
        lambda: (c := slack.channel_named("inc-1-payments-api-down-on-payments")) and c.pins and c
    )
    assert "<https://grafana.example/d/payments|Dashboard>" in section_text(card_of(channel))
    resolved = send(
        alert_server, "/alerts/generic", json.dumps(alert | {"status": "resolved"}).encode()
    )
    assert resolved.json()["resolved"] == 1
    wait_until(lambda: any("All alerts resolved" in str(m) for m in channel.messages))
