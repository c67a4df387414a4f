"""End-to-end fixtures: the real `warroom serve` process, a fake Slack it talks to, and a
client that sends Slack-signed requests to it exactly as Slack would."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import PROJECT_ROOT, SPECS_DIR
from tests.support.fake_slack import FakeSlack
from tests.support.slack_requests import (
    TEAM_ID,
    button_payload,
    command_fields,
    event_body,
    form_body,
    interaction_body,
    signed_headers,
    slack_signature,
    view_submission_payload,
)

SIGNING_SECRET = "e2e-signing-secret"
BOT_TOKEN = "xoxb-e2e-token"
APP_TOKEN = "xapp-e2e-token"
DECLARER = "U0DECLARER"
__all__ = ["TEAM_ID", "slack_signature"]  # for the tests that build their own requests


def wait_until(predicate: Callable[[], Any], *, timeout: float = 15, what: str = "") -> Any:
    """Poll until `predicate()` is truthy: the server works on its own schedule."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class WarroomServer:
    """`warroom serve` in its own process, restartable and killable like in production."""

    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot", "serve", "--port", str(self.port)],
                cwd=self.log_path.parent,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_until(self._ready, timeout=30, what=f"warroom to serve (log: {self.log_path})")

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"warroom exited: {self.log()}")
        try:
            return httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def quiet(self) -> bool:
        """Nothing left to do: every request's follow-up work and every delivery finished.

        The positive signal a "nothing else happened" check waits for."""
        try:
            state = httpx.get(f"{self.url}/readyz", timeout=2).json()
        except (httpx.HTTPError, ValueError):
            return False
        return state.get("follow_ups") == 0 and state.get("pending_deliveries") == 0

    def wait_quiet(self, timeout: float = 15) -> None:
        wait_until(self.quiet, timeout=timeout, what="warroom to finish its work")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        """kill -9: no shutdown hooks, nothing flushed: what a crash looks like."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@dataclass
class SlackSender:
    """Sends what Slack sends: signed form posts of slash commands."""

    server: WarroomServer
    fake: FakeSlack
    secret: str = SIGNING_SECRET
    last_response_url: str = ""

    def post(
        self, body: bytes, *, timestamp: int | None = None, secret: str | None = None,
        content_type: str = "application/x-www-form-urlencoded",
        extra: dict[str, str] | None = None,
    ) -> httpx.Response:  # fmt: skip
        headers = signed_headers(
            secret or self.secret, body, content_type=content_type, timestamp=timestamp
        )
        return httpx.post(
            f"{self.server.url}/slack/events",
            content=body,
            headers={**headers, **(extra or {})},
            timeout=10,
        )

    def command_body(
        self, text: str, *, user: str = DECLARER, channel: str = "C0GENERAL"
    ) -> dict[str, str]:
        return command_fields(
            text, user=user, channel=channel, response_url=self.fake.response_url()
        )

    def action(
        self, action_id: str, value: str, *, user: str, channel: str, message_ts: str
    ) -> tuple[httpx.Response, str]:
        """Press a button; returns Slack's answer and the response_url given with it."""
        response_url = self.fake.response_url()
        payload = button_payload(
            action_id, value, user=user, channel=channel, message_ts=message_ts,
            response_url=response_url,
        )  # fmt: skip
        return self.post(interaction_body(payload)), response_url

    def event(
        self, event: dict[str, Any], *, event_id: str | None = None, retry: int | None = None
    ) -> httpx.Response:
        """An Events API delivery; `retry` sets X-Slack-Retry-Num as Slack's re-sends do."""
        retried = (
            {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
            if retry is not None
            else {}
        )
        return self.post(
            event_body(event, event_id=event_id), content_type="application/json", extra=retried
        )

    def submit(
        self, view: dict[str, Any], values: dict[str, dict[str, Any]], *, user: str = DECLARER
    ) -> httpx.Response:
        """Submit a modal the app opened, with `values` as {block_id: {type…, value…}}."""
        return self.post(interaction_body(view_submission_payload(view, values, user=user)))

    def command(self, text: str, **kwargs: Any) -> httpx.Response:
        fields = self.command_body(
            text, **{k: v for k, v in kwargs.items() if k in ("user", "channel")}
        )
        self.last_response_url = fields["response_url"]
        return self.post(
            form_body(fields), **{k: v for k, v in kwargs.items() if k in ("timestamp", "secret")}
        )


@pytest.fixture(scope="session")
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack(SPECS_DIR) as fake:
        yield fake


@pytest.fixture
def slack(fake_slack: FakeSlack) -> Iterator[FakeSlack]:
    """The fake Slack, fresh for each test; every call the app made must have been valid."""
    fake_slack.reset()
    fake_slack.add_channel("incidents", channel_id="C0ANNOUNCE")
    fake_slack.add_channel("general", channel_id="C0GENERAL")
    yield fake_slack
    assert fake_slack.violations == [], "the app made calls Slack would reject"
    most, channel = fake_slack.most_posts_in_a_second()
    if fake_slack.one_post_a_second:
        assert most <= 1, f"{most} messages within a second in {channel}: Slack allows one"


@pytest.fixture
def server_env(slack: FakeSlack, database_url: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "WARROOM_"))}
    env.update(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        WARROOM_SLACK_API_URL=slack.api_url,
        WARROOM_DATABASE_URL=database_url,
        WARROOM_ANNOUNCE_CHANNEL="C0ANNOUNCE",
        WARROOM_TICK_SECONDS="0.2",
        WARROOM_DELIVERY_LEASE_SECONDS="3",
        WARROOM_TEMPLATES_DIR=str(PROJECT_ROOT / "templates"),
        PYTHONPATH=str(PROJECT_ROOT),
    )
    return env


@pytest.fixture
def make_server(
    server_env: dict[str, str], tmp_path: Path
) -> Iterator[Callable[..., WarroomServer]]:
    servers: list[WarroomServer] = []

    def make(**overrides: str | None) -> WarroomServer:
        env = dict(server_env)
        for key, value in overrides.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        server = WarroomServer(env=env, log_path=tmp_path / f"warroom-{len(servers)}.log")
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def server(make_server: Callable[..., WarroomServer]) -> WarroomServer:
    started = make_server()
    started.start()
    return started


@pytest.fixture
def sender(server: WarroomServer, slack: FakeSlack) -> SlackSender:
    return SlackSender(server, slack)
