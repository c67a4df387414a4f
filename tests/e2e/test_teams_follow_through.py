"""A Teams incident followed to its end through the real server: a channel of its own
made through Graph, diagnostics results, an answer throttled with a 429 and delivered
once, the all-clear, the postmortem written in a card form and shared as a file in the
channel's files. And /api/messages on a server without Teams."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.conftest import WarroomServer, wait_until
from tests.e2e.teams_activities import (
    CHANNEL,
    TENANT,
    bot_threads,
    connector,
    identity,
    in_conversation,
    invoke,
    message,
    send,
    teams_settings,
)
from tests.support.fake_bot_connector import FakeBotConnector
from tests.support.fake_teams_identity import FakeTeamsIdentity

# Fixtures, used by name.
__all__ = ["connector", "identity"]

TEAM_GROUP = "6f0c5a1e-1111-4222-8333-444455556666"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def channel_policy(connector: FakeBotConnector) -> str:
    port = httpx.URL(connector.base_url).port
    return f"""\
teams:
  incident_space: channel
  team_id: "{TEAM_GROUP}"
diagnostics:
  checks:
    - {{name: connector-port, type: tcp, host: 127.0.0.1, port: {port}}}
    - {{name: cache-port, type: tcp, host: 127.0.0.1, port: {closed_port()}}}
"""


def posted(connector: FakeBotConnector, conversation_id: str) -> str:
    bodies = [post.body for post in connector.activities_in(conversation_id)]
    return json.dumps(bodies, ensure_ascii=False)


def form_in(connector: FakeBotConnector, conversation_id: str, verb: str) -> dict[str, Any] | None:
    for post in connector.activities_in(conversation_id):
        for attachment in post.body.get("attachments") or []:
            if verb in json.dumps(attachment.get("content")):
                return dict(attachment["content"])
    return None


def test_a_teams_incident_in_its_own_channel_from_declaration_to_postmortem_file(
    make_server: Callable[..., WarroomServer],
    identity: FakeTeamsIdentity,
    connector: FakeBotConnector,
    tmp_path: Path,
) -> None:
    connector.add_channel(channel_id=CHANNEL, team_id=TEAM_GROUP, name="Incidents")
    policy = tmp_path / "policy.yml"
    policy.write_text(channel_policy(connector), encoding="utf-8")
    server = make_server(
        WARROOM_CONFIG=str(policy),
        WARROOM_TEAMS_TENANT_ID=TENANT,
        WARROOM_TEAMS_GRAPH_URL=connector.graph_url,
        **teams_settings(identity),
    )
    server.start()

    send(server, identity, message(connector, "declare sev2 Checkout errors"))
    (thread,) = wait_until(lambda: bot_threads(connector), what="the incident's thread")
    own_channel = connector.channel_named(TEAM_GROUP, thread.root.body["text"].split("**")[1])
    assert own_channel is not None and thread.channel_id == own_channel != CHANNEL
    (made,) = connector.calls_to("graph_create")
    assert made.authorization is not None and made.body["membershipType"] == "standard"
    here = thread.conversation_id
    wait_until(lambda: connector.last_card(here), what="the card in the channel's thread")

    def say(text: str) -> None:
        assert send(server, identity, in_conversation(message(connector, text), here)).is_success

    # Diagnostics: the results reach the thread, though the first try meets a 429.
    connector.rate_limit("send", retry_after=1)
    say("diag all")
    wait_until(
        lambda: (
            "connector-port" in posted(connector, here)
            and "cache-port" in posted(connector, here)
            and "🩺" in posted(connector, here)
        ),
        what="the diagnostics results",
        timeout=20,
    )
    throttled = [c for c in connector.calls_to("send") if c.status == 429]
    assert len(throttled) == 1
    summaries = [
        post
        for post in connector.activities_in(here)
        if "Diagnostics · all checks" in json.dumps(post.body, ensure_ascii=False)
    ]
    assert len(summaries) == 1, "posted once, edited with the results"

    say("resolve Pool raised")
    wait_until(lambda: "[RESOLVED] INC-1" in posted(connector, here), what="the all-clear")

    say("postmortem")
    form = wait_until(
        lambda: form_in(connector, here, "form:incident.postmortem_form"), what="the form"
    )
    submit = next(a for a in form["actions"] if a.get("verb") == "form:incident.postmortem_form")
    sections = {
        "root_cause": "A pool too small for Black Friday",
        "impact": "Checkout failed for 12% of buyers for 40 minutes",
        "resolution": "Pool raised to 200",
        "went_well": "Paged within a minute",
        "could_improve": "Load tests at peak size",
    }
    done = send(
        server,
        identity,
        invoke(connector, here, submit["verb"], {**submit.get("data", {}), **sections}),
    )
    assert done.json()["statusCode"] == 200, done.json()
    (document,) = wait_until(lambda: connector.files_in(own_channel), what="the postmortem file")
    assert document.name == "INC-1-postmortem.md"
    assert b"A pool too small for Black Friday" in document.content
    wait_until(lambda: document.web_url in posted(connector, here), what="a post linking it")
    assert all(call.authorization for call in connector.calls if call.kind.startswith("graph_"))


def test_api_messages_without_teams_says_it_is_not_configured(server: WarroomServer) -> None:
    answer = httpx.post(f"{server.url}/api/messages", json={"type": "message"}, timeout=10)
    assert answer.status_code == 503
    assert answer.json()["error"] == "teams_not_configured"
