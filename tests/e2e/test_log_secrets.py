"""A full run's logs hold no secret: the real server, every secret configured to a value of
its own, driven through Slack (HTTP and Socket Mode), the alert webhooks, Teams, the
pagers, diagnostics and the access log, at DEBUG; then everything it wrote is scanned for
every one of them. Its lines are JSON (stderr is a file here), each naming the incident,
the request and the delivery it was written for."""

from __future__ import annotations

import json
import socket
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.e2e.conftest import SlackSender, WarroomServer, wait_until
from tests.e2e.teams_activities import APP_ID, TENANT, connector, message, reply_texts, send
from tests.e2e.test_declare import section_text
from tests.e2e.test_diagnostics import run_message
from tests.support.fake_bot_connector import FakeBotConnector
from tests.support.fake_pager import FakePager
from tests.support.fake_slack import FakeSlack
from tests.support.fake_teams_identity import FakeTeamsIdentity
from tests.support.slack_requests import form_body

__all__ = ["connector"]  # a fixture, used by name

BOT_TOKEN = "xoxb-logscan-bot-6d1f0a"
APP_TOKEN = "xapp-logscan-app-93be27"
SIGNING_SECRET = "logscan-signing-4c8e1b"
ALERT_TOKEN = "logscan-alert-token-a71d"
GRAFANA_TOKEN = "logscan-grafana-token-2b9c"
GRAFANA_HMAC = "logscan-grafana-hmac-5e03"
WEB_TOKEN = "logscan-web-token-f41a"
TEAMS_PASSWORD = "logscan-teams-password-77c2"
PD_KEY = "logscan-pagerduty-key-0d5e"
PAGE_SECRET = "logscan-page-secret-c3a8"
DIAG_TOKEN = "logscan-diag-token-19f6"
DIAG_DB_PASSWORD = "logscan-diag-dbpw-8a2d"
DSN_PASSWORD = "logscan-dsn-pw-4f7b"  # in WARROOM_DATABASE_URL when it is Postgres
SECRETS = [
    BOT_TOKEN, APP_TOKEN, SIGNING_SECRET, ALERT_TOKEN, GRAFANA_TOKEN, GRAFANA_HMAC,
    WEB_TOKEN, TEAMS_PASSWORD, PD_KEY, PAGE_SECRET, DIAG_TOKEN, DIAG_DB_PASSWORD,
]  # fmt: skip


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def policy(pager: FakePager) -> str:
    nowhere = f"http://127.0.0.1:{closed_port()}"
    return f"""\
pagerduty_url: {pager.base_url}
escalation:
  - level: L1
    severities: [SEV1, SEV2, SEV3, SEV4]
    after: 0s
    contacts:
      users: [U0ONCALL]
      pagerduty: {{routing_key_env: LOGSCAN_PD_KEY}}
      webhook: {{url: "{nowhere}/page", secret_env: LOGSCAN_PAGE_SECRET}}
alerts:
  sources:
    grafana: {{token_env: LOGSCAN_GRAFANA_TOKEN, hmac_secret_env: LOGSCAN_GRAFANA_HMAC}}
diagnostics:
  checks:
    - {{name: api, type: http, url: "{nowhere}/health", timeout: 1s,
       headers: {{Authorization: {{env: LOGSCAN_DIAG_AUTH}}}}}}
    - {{name: db, type: postgres, dsn_env: LOGSCAN_DIAG_DSN, timeout: 1s}}
"""


@pytest.fixture(scope="module")
def identity() -> Iterator[FakeTeamsIdentity]:
    with FakeTeamsIdentity(app_id=APP_ID, password=TEAMS_PASSWORD) as fake:
        yield fake


@pytest.fixture
def pager() -> Iterator[FakePager]:
    fake = FakePager()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def database_with_password(database_url: str) -> str:
    """Postgres: the URL with a password in it (the scratch server trusts loopback, so it
    is not checked, but it is configured like any other DSN password)."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        return database_url
    if url.password:
        return database_url
    return url.set(password=DSN_PASSWORD).render_as_string(hide_password=False)


@pytest.fixture
def logged_server(
    make_server: Callable[..., WarroomServer],
    tmp_path: Path,
    pager: FakePager,
    identity: FakeTeamsIdentity,
    database_with_password: str,
) -> WarroomServer:
    path = tmp_path / "policy.yml"
    path.write_text(policy(pager))
    server = make_server(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_APP_TOKEN=APP_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        WARROOM_DATABASE_URL=database_with_password,
        WARROOM_CONFIG=str(path),
        WARROOM_LOG_LEVEL="DEBUG",
        WARROOM_LOG_FORMAT=None,  # the default: JSON, stderr being a file
        WARROOM_ALERT_TOKEN=ALERT_TOKEN,
        WARROOM_WEB_TOKEN=WEB_TOKEN,
        WARROOM_TEAMS_APP_ID=APP_ID,
        WARROOM_TEAMS_APP_PASSWORD=TEAMS_PASSWORD,
        WARROOM_TEAMS_TENANT_ID=TENANT,
        WARROOM_TEAMS_OPENID_METADATA_URL=identity.metadata_url,
        WARROOM_TEAMS_TOKEN_URL=identity.token_url,
        LOGSCAN_PD_KEY=PD_KEY,
        LOGSCAN_PAGE_SECRET=PAGE_SECRET,
        LOGSCAN_GRAFANA_TOKEN=GRAFANA_TOKEN,
        LOGSCAN_GRAFANA_HMAC=GRAFANA_HMAC,
        LOGSCAN_DIAG_AUTH=f"Bearer {DIAG_TOKEN}",
        LOGSCAN_DIAG_DSN=f"postgresql://diag:{DIAG_DB_PASSWORD}@127.0.0.1:{closed_port()}/app",
    )
    server.start()
    return server


def forms_of(secret: str) -> set[str]:
    """A secret as it may show: as it is, URL-quoted, JSON-escaped."""
    return {secret, urllib.parse.quote(secret, safe=""), json.dumps(secret)[1:-1]}


def lines_of(log: str) -> list[dict[str, Any]]:
    parsed = []
    for number, line in enumerate(log.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            raise AssertionError(f"line {number} is not JSON: {line[:300]!r}") from None
        assert isinstance(entry, dict), line
        assert {"time", "level", "logger", "message"} <= set(entry), line
        parsed.append(entry)
    return parsed


def test_a_full_run_logs_no_secret_and_names_what_each_line_was_for(
    logged_server: WarroomServer,
    slack: FakeSlack,
    pager: FakePager,
    identity: FakeTeamsIdentity,
    connector: FakeBotConnector,
) -> None:
    server = logged_server
    sender = SlackSender(server, slack, secret=SIGNING_SECRET)
    wait_until(slack.socket_connected.is_set, what="the Socket Mode connection")

    # Slack over HTTP: a declaration (SEV1: the pagers are called at once), diagnostics,
    # an acknowledgement; a request signed with the wrong secret is refused.
    fields = sender.command_body("declare sev1 Checkout errors")
    declared = sender.post(form_body(fields))
    assert declared.status_code == 200, declared.text
    channel = wait_until(
        lambda: (c := slack.channel_named("inc-1-checkout-errors")) and c.pins and c,
        what="the pinned card",
    )
    assert sender.command("diag all", channel=channel.id).status_code == 200
    shown = section_text(run_message(slack, channel))
    assert "❌ *api*" in shown and "❌ *db*" in shown  # both failed, saying why
    assert sender.command("ack", channel=channel.id).status_code == 200
    assert sender.command("help", secret="not-the-signing-secret").status_code == 401
    wait_until(lambda: pager.events(), what="the PagerDuty trigger")
    # Slack over Socket Mode.
    socket_ack = slack.socket_request("slash_commands", sender.command_body("list"), timeout=5)
    assert "INC-1" in json.dumps(socket_ack)

    # The alert webhooks: a bad token, a good one, Grafana's signature wrong.
    alert = json.dumps({"title": "Disk almost full", "severity": "sev3"}).encode()
    generic = f"{server.url}/alerts/generic"
    bad = httpx.post(generic, content=alert, headers={"Authorization": "Bearer wrong-token-1"})
    assert bad.status_code == 401
    good = httpx.post(generic, content=alert, headers={"Authorization": f"Bearer {ALERT_TOKEN}"})
    assert good.status_code == 200, good.text
    grafana = httpx.post(
        f"{server.url}/alerts/grafana",
        content=b'{"alerts": []}',
        headers={
            "Authorization": f"Bearer {GRAFANA_TOKEN}",
            "X-Grafana-Alerting-Signature": "0" * 64,
        },
    )
    assert grafana.status_code == 401

    # Teams: a bad token, then a good one whose answer needs an outbound token.
    activity = message(connector, "help")
    assert send(server, identity, activity, token="not-a-jwt").status_code == 401
    assert send(server, identity, activity).status_code == 200
    wait_until(lambda: reply_texts(connector), what="the Teams reply")

    # A secret in a URL's query reaches the access log.
    assert httpx.get(f"{server.url}/healthz?token={WEB_TOKEN}").status_code == 200
    wait_until(lambda: "/healthz?" in server.log(), what="the access line in the log")
    server.stop()

    log = server.log()
    dsn_password = make_url(server.env["WARROOM_DATABASE_URL"]).password
    for secret in [*SECRETS, *([str(dsn_password)] if dsn_password else [])]:
        for form in forms_of(secret):
            assert form not in log, f"{secret!r} appears in the log ({server.log_path})"

    lines = lines_of(log)
    assert len(lines) > 50  # DEBUG: the run said a lot, none of it secret
    # Lines written while a delivery ran name it and its incident.
    for_incident = [line for line in lines if line.get("incident") == "INC-1"]
    assert any(isinstance(line.get("delivery_id"), int) for line in for_incident), log[-3000:]
    assert all("delivery_id" in line for line in for_incident)
    # Lines written for the declaration name Slack's id of the request.
    assert any(line.get("request_id") == fields["trigger_id"] for line in lines)
    # uvicorn's access log goes through the same formatter, its query redacted.
    access = [line for line in lines if line["logger"] == "uvicorn.access"]
    health = [line for line in access if "/healthz?" in line["message"]]
    assert health and all("[redacted]" in line["message"] for line in health)
    assert any(line["logger"] == "uvicorn.error" for line in lines)
    # The refusals were logged, without what was refused.
    assert any("Teams request refused" in line["message"] for line in lines)
    assert all("T" in line["time"] and line["time"].endswith("Z") for line in lines)
