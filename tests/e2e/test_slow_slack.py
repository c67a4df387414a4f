"""A slow Slack or a dead pager holds up its own calls only: other incidents' channels and
cards arrive as fast as ever. And every Web API call shares one HTTP session, opened and
closed with the app."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType

import pytest

from bot.app import build, create_app
from bot.chat.slack.adapter import SlackChat, build_web_client
from bot.config import Settings
from bot.policy.schema import default_policy
from tests.e2e.conftest import BOT_TOKEN, SlackSender, WarroomServer, wait_until
from tests.e2e.test_declare import pinned_card
from tests.e2e.test_lifecycle import answer, declared
from tests.support.fake_slack import FakeSlack

# What "not delayed" means here: a quiet run pins the card in a few tens of milliseconds;
# a second leaves room for a loaded machine, not for a call stuck behind another.
CARD_WITHIN = 1.0


class BlackHole:
    """A pager endpoint that takes every connection and never answers."""

    def __init__(self) -> None:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}/page"
        self.held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, name="black-hole", daemon=True)

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return  # closed
            self.held.append(connection)  # read nothing, answer nothing

    def __enter__(self) -> BlackHole:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._listener.close()
        for connection in self.held:
            connection.close()


def time_to_card(sender: SlackSender, slack: FakeSlack, title: str, number: int) -> float:
    started = time.monotonic()
    assert sender.command(f"declare sev2 {title}").status_code == 200
    pinned_card(slack, f"inc-{number}-{title.lower().replace(' ', '-')}")
    return time.monotonic() - started


def test_one_incidents_hanging_edit_holds_up_no_other_incident(
    sender: SlackSender, slack: FakeSlack
) -> None:
    stuck = declared(sender, slack, "Checkout errors")
    sender.server.wait_quiet()
    slack.hang("chat.update", seconds=10, where={"channel": stuck.id})
    answer(sender, "ack", stuck.id)
    wait_until(
        lambda: any(c.status == 0 for c in slack.calls_to("chat.update")),
        what="INC-1's card edit hanging",
    )
    assert time_to_card(sender, slack, "Database down", 2) < CARD_WITHIN
    assert time_to_card(sender, slack, "Queue backlog", 3) < CARD_WITHIN
    assert any(c.status == 0 for c in slack.calls_to("chat.update")), "still hanging"


def test_a_pager_that_never_answers_delays_no_card(
    make_server: Callable[..., WarroomServer], slack: FakeSlack, tmp_path: Path
) -> None:
    with BlackHole() as pager:
        policy = tmp_path / "policy.yml"
        policy.write_text(
            "escalation:\n"
            "  - level: L1\n"
            "    name: On-call\n"
            f"    contacts: {{webhook: {{url: '{pager.url}'}}}}\n",
            encoding="utf-8",
        )
        server = make_server(WARROOM_CONFIG=str(policy))
        server.start()
        sender = SlackSender(server, slack)
        titles = ["Checkout errors", "Database down", "Queue backlog", "Search slow"]
        for number, title in enumerate(titles, start=1):
            assert time_to_card(sender, slack, title, number) < CARD_WITHIN
        # Every pager slot now holds a page nobody answers (15 s each, then retried)...
        wait_until(lambda: len(pager.held) >= len(titles), what="the pages, unanswered")
        # ...and new incidents still get their channel and card at once.
        assert time_to_card(sender, slack, "DNS flap", 5) < CARD_WITHIN
        assert time_to_card(sender, slack, "Login loop", 6) < CARD_WITHIN


def test_every_call_shares_one_session_opened_and_closed_with_the_app(
    sender: SlackSender, slack: FakeSlack
) -> None:
    for number, title in enumerate(["Checkout errors", "Database down", "Queue backlog"], 1):
        time_to_card(sender, slack, title, number)
        sender.server.wait_quiet()
    calls = slack.calls
    connections = {c.peer_port for c in calls}
    # One session keeps its connections alive: a handful serve every call, where a
    # session per call opened one connection (and, to Slack, one TLS handshake) each.
    assert len(calls) >= 20 and len(connections) <= 4, (len(calls), sorted(connections))


@pytest.fixture
def app_settings(slack: FakeSlack, database_url: str) -> Iterator[Settings]:
    yield Settings(
        _env_file=None,
        database_url=database_url,
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret="secret",
        slack_api_url=slack.api_url,
    )


async def test_the_session_lives_as_long_as_the_app(app_settings: Settings) -> None:
    warroom = build(app_settings, policy=default_policy())
    assert isinstance(warroom.chat, SlackChat) and warroom.bolt is not None
    clients = [*warroom.chat.web_clients, warroom.bolt.client]
    assert all(client.session is None for client in clients)  # none outside the app's loop
    app = create_app(warroom=warroom)
    async with app.router.lifespan_context(app):
        (session,) = {id(client.session) for client in clients}
        assert session and not any(client.session.closed for client in clients)  # type: ignore[union-attr]
        shared = clients[0].session
    assert shared is not None and shared.closed
    # A client built by itself still works without one: slack_sdk opens its own per call.
    assert build_web_client(token=BOT_TOKEN, base_url="http://x/").session is None
