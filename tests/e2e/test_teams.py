"""Microsoft Teams end to end: the real server, signed Bot Framework requests from a fake
identity provider, replies and threads at a fake Bot Connector that validates every card
against the Adaptive Card 1.5 schema and the 28 KB limit. Slack is configured in the same
process: each incident stays on the platform it was declared on."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.conftest import SlackSender, WarroomServer, wait_until
from tests.e2e.teams_activities import (
    ALEX,
    APP_ID,
    BOT,
    CHANNEL,
    TEAM,
    TENANT,
    bot_threads,
    connector,
    identity,
    invoke,
    message,
    reply_texts,
    send,
    teams_server,
    teams_settings,
)
from tests.support.fake_bot_connector import FakeBotConnector
from tests.support.fake_slack import FakeSlack
from tests.support.fake_teams_identity import FakeTeamsIdentity

# Fixtures, used by name.
__all__ = ["connector", "identity", "teams_server"]


def test_every_bad_token_is_a_401_and_nothing_happens(
    teams_server: WarroomServer, identity: FakeTeamsIdentity, connector: FakeBotConnector
) -> None:
    activity = message(connector, "declare sev2 Checkout errors")
    service = connector.service_url
    bad = {
        "none": None,
        "malformed": "not-a-jwt",
        "wrong audience": identity.mint("someone-else", service_url=service),
        "expired": identity.mint(APP_ID, service_url=service, expires_in=-3600),
        "wrong signature": identity.mint(APP_ID, service_url=service, signing_key="other"),
        "wrong issuer": identity.mint(APP_ID, service_url=service, issuer="https://evil.example"),
    }
    for case, token in bad.items():
        answer = send(teams_server, identity, activity, token=token)
        assert answer.status_code == 401, case
        assert answer.json()["ok"] is False
    assert connector.calls == []
    assert send(teams_server, identity, activity).status_code == 200  # the test's own issuer


def test_declare_in_teams_opens_a_thread_with_the_card_and_buttons_refresh_it(
    teams_server: WarroomServer,
    identity: FakeTeamsIdentity,
    connector: FakeBotConnector,
    slack: FakeSlack,
) -> None:
    answer = send(teams_server, identity, message(connector, "declare sev2 Checkout errors"))
    assert answer.status_code == 200
    wait_until(lambda: any("Declaring INC-1" in t for t in reply_texts(connector)), what="reply")
    (thread,) = wait_until(lambda: bot_threads(connector), what="the incident's thread")
    assert thread.channel_id == CHANNEL
    card = wait_until(
        lambda: connector.last_card(thread.conversation_id), what="the card in the thread"
    )
    shown = json.dumps(card)
    assert "INCIDENT ACTIVE" in shown and "Checkout errors" in shown
    verbs = [action.get("verb") for action in card.get("actions", [])]
    assert "incident.acknowledge" in verbs and "incident.resolve" in verbs
    # Nothing of it reached Slack.
    assert slack.calls_to("conversations.create") == []
    assert slack.channels["C0ANNOUNCE"].messages == []

    pressed = send(
        teams_server,
        identity,
        invoke(connector, thread.conversation_id, "incident.acknowledge", {"value": "1"}),
    )
    assert pressed.status_code == 200
    body = pressed.json()
    assert body["statusCode"] == 200
    assert body["type"] == "application/vnd.microsoft.card.adaptive"
    assert "Acknowledged" in json.dumps(body["value"])
    # Everyone sees it: the card is edited in place in the thread.
    wait_until(
        lambda: "Acknowledged" in json.dumps(connector.last_card(thread.conversation_id)),
        what="the card edited for everyone",
    )
    assert connector.calls_to("update")


def test_a_refused_command_answers_the_sender_and_help_works(
    teams_server: WarroomServer, identity: FakeTeamsIdentity, connector: FakeBotConnector
) -> None:
    send(teams_server, identity, message(connector, "ack INC-42"))
    send(teams_server, identity, message(connector, "help"))
    texts = wait_until(lambda: len(t := reply_texts(connector)) >= 2 and t, what="two replies")
    assert "there is no INC-42" in texts[0]
    assert "declare" in texts[1]


def test_slack_and_teams_in_one_process_keep_to_their_own(
    teams_server: WarroomServer,
    identity: FakeTeamsIdentity,
    connector: FakeBotConnector,
    slack: FakeSlack,
) -> None:
    sender = SlackSender(teams_server, slack)
    assert sender.command("declare sev2 Payments failing").status_code == 200
    wait_until(lambda: slack.channel_named("inc-1-payments-failing"), what="the Slack channel")
    send(teams_server, identity, message(connector, "declare sev3 Search slow"))
    (thread,) = wait_until(lambda: bot_threads(connector), what="the Teams thread")
    card = wait_until(lambda: connector.last_card(thread.conversation_id), what="its card")
    assert "INC-2" in json.dumps(card) and "Payments" not in json.dumps(card)
    assert all("Search slow" not in str(call.args) for call in slack.calls)


SAM = "bbbbbbbb-0000-4000-8000-000000000002"
ESCALATION_POLICY = f"""\
escalation:
  - {{level: L1, name: On-call engineer, after: 0s}}
  - level: L2
    name: Tech lead
    after: 1h
    contacts: {{teams_users: ["{SAM}"], users: [U0SLACKLEAD]}}
"""


def mentions(connector: FakeBotConnector, conversation_id: str) -> list[str]:
    found: list[str] = []
    for post in connector.activities_in(conversation_id):
        for entity in post.body.get("entities") or []:
            if entity.get("type") == "mention":
                found.append(str(entity["mentioned"]["id"]))
    return found


def test_escalation_and_reminders_reach_a_teams_incident_with_mentions(
    make_server: Callable[..., WarroomServer],
    identity: FakeTeamsIdentity,
    connector: FakeBotConnector,
    tmp_path: Any,
) -> None:
    policy = tmp_path / "policy.yml"
    policy.write_text(ESCALATION_POLICY, encoding="utf-8")
    server = make_server(WARROOM_CONFIG=str(policy), **teams_settings(identity))
    server.start()
    send(server, identity, message(connector, "declare sev2 Checkout errors"))
    (thread,) = wait_until(lambda: bot_threads(connector), what="the incident's thread")
    wait_until(lambda: connector.last_card(thread.conversation_id), what="the card")
    here = thread.conversation_id

    def in_thread(text: str) -> dict[str, Any]:
        activity = message(connector, text)
        activity["conversation"] = {"id": here, "conversationType": "channel", "tenantId": TENANT}
        return activity

    send(server, identity, in_thread("escalate need the tech lead"))
    wait_until(lambda: SAM in mentions(connector, here), what="the tech lead mentioned")
    assert "U0SLACKLEAD" not in json.dumps([p.body for p in connector.activities_in(here)])
    # A reminder when Next Update passes mentions the declarer (no commander yet).
    send(server, identity, in_thread("update --next 1s Looking at the pool"))
    wait_until(
        lambda: any(
            "next update was due" in json.dumps(post.body) and ALEX in json.dumps(post.body)
            for post in connector.activities_in(here)
        ),
        what="the reminder mentioning the declarer",
    )


def test_a_private_declaration_in_teams_is_refused_not_opened_in_public(
    teams_server: WarroomServer, identity: FakeTeamsIdentity, connector: FakeBotConnector
) -> None:
    send(teams_server, identity, message(connector, "declare --private sev1 Data leak"))
    texts = wait_until(lambda: reply_texts(connector), what="the refusal")
    assert "a private incident cannot open in Teams yet" in texts[0]
    assert bot_threads(connector) == []


ANNOUNCE = "19:announcements@thread.tacv2"
TEAMS_POLICY = f"""\
teams:
  incidents_channel: "{CHANNEL}"
  announce_channel: "{ANNOUNCE}"
"""


@pytest.fixture
def policy_server(
    make_server: Callable[..., WarroomServer],
    identity: FakeTeamsIdentity,
    connector: FakeBotConnector,
    tmp_path: Any,
) -> WarroomServer:
    connector.add_channel(channel_id=ANNOUNCE, team_id=TEAM, name="Announcements")
    policy = tmp_path / "teams-policy.yml"
    policy.write_text(TEAMS_POLICY, encoding="utf-8")
    server = make_server(WARROOM_CONFIG=str(policy), **teams_settings(identity))
    server.start()
    return server


def personal(connector: FakeBotConnector, text: str) -> dict[str, Any]:
    activity = message(connector, text)
    chat = connector.add_chat(user_id=ALEX)
    activity["conversation"] = {"id": chat, "conversationType": "personal", "tenantId": TENANT}
    activity.pop("channelData")
    return activity


def test_from_a_personal_chat_the_thread_opens_in_the_incidents_channel_and_is_announced(
    policy_server: WarroomServer, identity: FakeTeamsIdentity, connector: FakeBotConnector
) -> None:
    answer = send(policy_server, identity, personal(connector, "declare sev2 Checkout errors"))
    assert answer.status_code == 200
    (thread,) = wait_until(lambda: bot_threads(connector), what="the incident's thread")
    assert thread.channel_id == CHANNEL
    wait_until(lambda: connector.last_card(thread.conversation_id), what="the card")
    # A post in a channel is a thread's root.
    announced = wait_until(
        lambda: [
            t for t in connector.threads() if t.channel_id == ANNOUNCE and "INC-1" in str(t.root)
        ],
        what="the announcement in the Teams announce channel",
    )
    assert len(announced) == 1


def test_the_post_update_button_sends_its_form_and_the_form_posts_the_update(
    teams_server: WarroomServer, identity: FakeTeamsIdentity, connector: FakeBotConnector
) -> None:
    send(teams_server, identity, message(connector, "declare sev2 Checkout errors"))
    (thread,) = wait_until(lambda: bot_threads(connector), what="the incident's thread")
    here = thread.conversation_id
    wait_until(lambda: connector.last_card(here), what="the card")
    pressed = send(
        teams_server, identity, invoke(connector, here, "incident.post_update", {"value": "1"})
    )
    assert pressed.json()["type"] == "application/vnd.microsoft.card.adaptive"
    form = wait_until(
        lambda: next(
            (
                card
                for post in connector.activities_in(here)
                for card in [a["content"] for a in post.body.get("attachments") or []]
                if "form:incident.update_form" in json.dumps(card)
            ),
            None,
        ),
        what="the update form",
    )
    submit = next(a for a in form["actions"] if a.get("verb") == "form:incident.update_form")
    data = {**submit.get("data", {}), "status": "mitigating", "text": "Pool raised", "next": "30m"}
    done = send(teams_server, identity, invoke(connector, here, submit["verb"], data))
    assert done.json()["value"] == "✅ Done.", done.json()
    wait_until(
        lambda: "Pool raised" in json.dumps([p.body for p in connector.activities_in(here)]),
        what="the update posted in the thread",
    )
    wait_until(lambda: "Mitigating" in json.dumps(connector.last_card(here) or {}), what="card")


def test_the_bot_added_to_a_team_says_hello(
    teams_server: WarroomServer, identity: FakeTeamsIdentity, connector: FakeBotConnector
) -> None:
    added = message(connector, "")
    added.update(
        type="conversationUpdate",
        membersAdded=[{"id": BOT}],
        conversation={"id": CHANNEL, "conversationType": "channel", "tenantId": TENANT},
    )
    added.pop("text")
    added.pop("entities")
    assert send(teams_server, identity, added).status_code == 200
    wait_until(
        lambda: any("warroom is here" in t for t in reply_texts(connector)), what="the hello"
    )


def test_each_command_gets_an_answer_in_teams(
    teams_server: WarroomServer, identity: FakeTeamsIdentity, connector: FakeBotConnector
) -> None:
    send(teams_server, identity, message(connector, "declare sev2 Checkout errors"))
    (thread,) = wait_until(lambda: bot_threads(connector), what="the incident's thread")
    here = thread.conversation_id
    wait_until(lambda: connector.last_card(here), what="the card")
    commands = [
        "ack",
        "update Looking at the pool",
        "status mitigating",
        "severity sev1",
        "role commander <at>Sam</at>",
        "note pool at 100%",
        "diag",
        "list",
        "resolve Pool raised",
        "postmortem",
        "help",
    ]
    for text in commands:
        activity = message(connector, text)
        activity["conversation"] = {"id": here, "conversationType": "channel", "tenantId": TENANT}
        if "<at>Sam</at>" in text:
            activity["entities"].append(
                {
                    "type": "mention",
                    "text": "<at>Sam</at>",
                    "mentioned": {"id": f"29:{SAM}", "name": "Sam", "aadObjectId": SAM},
                }
            )
        before = len(connector.calls_to("send"))
        assert send(teams_server, identity, activity).status_code == 200, text
        wait_until(
            lambda before=before: len(connector.calls_to("send")) > before,
            what=f"an answer to {text}",
        )
    shown = json.dumps([call.body for call in connector.calls_to("send")])
    assert "⚠️" not in shown.split("Looking at the pool")[0], "ack was refused"
    assert "commander" in shown and "resolved" in shown.lower()
