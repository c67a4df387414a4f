"""Diagnostics through the real server: `/incident diag` against real local targets, one
message edited with the results, the detail in its thread, secrets kept out of chat and
the database, the card's button and picker, and a run cut short by `kill -9`."""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, text

from tests.e2e.conftest import DECLARER, SlackSender, WarroomServer, wait_until
from tests.e2e.test_declare import section_text
from tests.e2e.test_forms import opened_view, selected
from tests.e2e.test_lifecycle import card, card_shows, declared
from tests.support.fake_slack import FakeChannel, FakeSlack

API_TOKEN = "diag-e2e-token-5f3a9c"  # sent as a header: never to be seen again
DB_PASSWORD = "pw-e2e-7d1b"


class _Health(BaseHTTPRequestHandler):
    hold = threading.Event()  # set when the tests end: hung requests may finish

    def do_GET(self) -> None:
        if self.path == "/hang":
            self.hold.wait(60)
            return
        authorised = self.headers.get("Authorization") == f"Bearer {API_TOKEN}"
        if self.path == "/health" and authorised:
            status, body = 200, {"status": "ok", "db": {"latency_ms": 3}}
        elif self.path == "/health":
            status, body = 401, {"error": "unauthorised"}
        else:
            status, body = 200, {"status": "degraded", "echo": self.headers.get("Authorization")}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def target() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    _Health.hold.set()
    server.shutdown()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def policy(target: str, *, hang_timeout: str = "1s") -> str:
    return f"""\
diagnostics:
  checks:
    - {{name: api-health, type: http, url: "{target}/health", expect: ['$.status == "ok"',
        '$.db.latency_ms < 200'], headers: {{Authorization: {{env: E2E_DIAG_AUTH}}}}}}
    - {{name: api-degraded, type: http, url: "{target}/degraded",
        expect: ['$.status == "ok"'], headers: {{Authorization: {{env: E2E_DIAG_AUTH}}}}}}
    - {{name: app-port, type: tcp, host: 127.0.0.1, port: {closed_port()}}}
    - {{name: api-hung, type: http, url: "{target}/hang", timeout: {hang_timeout}}}
    - {{name: secrets, type: command, argv: ["{sys.executable}", "-c",
        "print('password=hunter2 xoxb-1234-5678-abcdef postgresql://app:{DB_PASSWORD}@db/app')"]}}
  runbooks:
    - name: app-unresponsive
      title: Application unresponsive
      steps:
        - {{check: api-health, hint: "Restart the container, check env vars"}}
        - {{check: app-port, hint: "Is the process listening on 3000?"}}
        - {{check: api-hung}}
    - name: quick
      title: Quick diagnosis
      stop_on_failure: false
      steps: [{{check: api-health}}, {{check: api-degraded}}]
"""


@pytest.fixture
def diag_server(
    make_server: Callable[..., WarroomServer], tmp_path: Path, target: str
) -> WarroomServer:
    path = tmp_path / "policy.yml"
    path.write_text(policy(target))
    server = make_server(WARROOM_CONFIG=str(path), E2E_DIAG_AUTH=f"Bearer {API_TOKEN}")
    server.start()
    return server


@pytest.fixture
def diag_sender(diag_server: WarroomServer, slack: FakeSlack) -> SlackSender:
    return SlackSender(diag_server, slack)


def run_message(slack: FakeSlack, channel: FakeChannel, *, done: bool = True) -> dict[str, Any]:
    """The run's message in the channel (marked diagnostics:N), once it shows its results."""

    def found() -> dict[str, Any] | None:
        for message in slack.channels[channel.id].messages:
            marker = ((message.get("metadata") or {}).get("event_payload") or {}).get("marker")
            if str(marker).startswith("diagnostics:") and message.get("thread_ts") in (
                None,
                message["ts"],
            ):
                shown = section_text(message)
                if not done or "🩺" in shown or "⛔" in shown:
                    return message
        return None

    return wait_until(found, what="the diagnostics message")  # type: ignore[no-any-return]


def thread_replies(slack: FakeSlack, channel: FakeChannel, ts: str) -> list[dict[str, Any]]:
    return [
        m for m in slack.channels[channel.id].messages if m.get("thread_ts") == ts and m["ts"] != ts
    ]


def test_diag_all_runs_every_check_at_once_and_keeps_secrets_out(
    diag_sender: SlackSender, slack: FakeSlack, database_url: str
) -> None:
    channel = declared(diag_sender, slack)
    listed = json.dumps(diag_sender.command("diag", channel=channel.id).json())
    assert "api-health" in listed and "app-unresponsive" in listed
    assert API_TOKEN not in listed and "E2E_DIAG_AUTH" not in listed

    started = time.monotonic()
    answer = diag_sender.command("diag all", channel=channel.id)
    assert answer.status_code == 200 and time.monotonic() - started < 3
    assert answer.json()["text"].startswith("🩺 Running all checks on INC-1 (5 checks)")
    message = run_message(slack, channel)
    took = time.monotonic() - started
    shown = section_text(message)
    assert "✅ *api-health*" in shown
    assert "❌ *api-degraded*" in shown and '$.status is "degraded"' in shown
    assert "❌ *app-port*" in shown and "refused" in shown
    assert "❌ *api-hung*" in shown and "timed out after 1s" in shown
    assert "✅ *secrets*" in shown
    assert took < 4, f"a hung check costs its timeout (1s), not more: took {took:.1f}s"

    (detail,) = wait_until(lambda: thread_replies(slack, channel, message["ts"]))
    detail_text = section_text(detail)
    assert "password=[redacted]" in detail_text or "[redacted]" in detail_text
    for secret in ("hunter2", "xoxb-1234-5678-abcdef", DB_PASSWORD, API_TOKEN):
        assert secret not in json.dumps(slack.channels[channel.id].messages), secret
    card_shows(slack, channel, "Last diagnostics")
    assert "2 passed, 3 failed" in section_text(card(slack, channel))

    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            for table in inspect(connection).get_table_names():
                dump = json.dumps(
                    [list(row) for row in connection.execute(text(f'SELECT * FROM "{table}"'))],
                    default=str,
                )
                for secret in ("hunter2", DB_PASSWORD, API_TOKEN):
                    assert secret not in dump, f"{secret} stored in {table}"
    finally:
        engine.dispose()


def test_unknown_names_and_arguments_are_refused(
    diag_sender: SlackSender, slack: FakeSlack
) -> None:
    channel = declared(diag_sender, slack)
    refused = diag_sender.command("diag api-health; rm -rf /", channel=channel.id).json()
    assert "no check or runbook is named" in refused["text"]
    assert refused["response_type"] == "ephemeral"


def test_the_card_button_opens_a_picker_of_runbooks(
    diag_sender: SlackSender, slack: FakeSlack
) -> None:
    channel = declared(diag_sender, slack)
    shown = card(slack, channel)
    (actions,) = [b for b in shown["blocks"] if b["type"] == "actions"]
    button = next(e for e in actions["elements"] if e["action_id"] == "incident.run_diagnostics")
    assert button["text"]["text"] == "Run diagnostics"
    pressed, _ = diag_sender.action(
        "incident.run_diagnostics",
        button["value"],
        user=DECLARER,
        channel=channel.id,
        message_ts=shown["ts"],
    )
    assert pressed.status_code == 200
    view = opened_view(slack)
    assert view["callback_id"] == "incident.diagnostics_form"
    submitted = diag_sender.submit(view, {"target": selected("quick")})
    assert submitted.status_code == 200
    message = run_message(slack, channel)
    assert "runbook Quick diagnosis" in section_text(message)
    assert "1 passed, 1 failed" in section_text(message)


def test_a_run_cut_short_by_kill_ends_as_interrupted(
    make_server: Callable[..., WarroomServer],
    slack: FakeSlack,
    tmp_path: Path,
    target: str,
) -> None:
    path = tmp_path / "policy.yml"
    path.write_text(policy(target, hang_timeout="60s"))
    env = {"WARROOM_CONFIG": str(path), "E2E_DIAG_AUTH": f"Bearer {API_TOKEN}"}
    first = make_server(**env)
    first.start()
    sender = SlackSender(first, slack)
    channel = declared(sender, slack)
    sender.command("diag api-hung", channel=channel.id)
    running = run_message(slack, channel, done=False)
    assert "⏳" in section_text(running)
    first.kill()  # kill -9 while the check hangs

    second = make_server(**env)
    second.start()
    ended = wait_until(
        lambda: (
            "⛔ Interrupted" in section_text(run_message(slack, channel, done=False))
            and run_message(slack, channel, done=False)
        ),
        timeout=30,
        what="the run's message to say it was interrupted",
    )
    assert ended["ts"] == running["ts"]  # the same message, edited
    assert "⏳" not in section_text(ended)
