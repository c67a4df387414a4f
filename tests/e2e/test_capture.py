"""Messages captured into the timeline by 📌 reactions, pins and the message shortcut."""

from __future__ import annotations

import json
import urllib.parse
import uuid

from tests.e2e.conftest import TEAM_ID, SlackSender, wait_until
from tests.e2e.test_lifecycle import card, card_shows, declared
from tests.support.fake_slack import FakeSlack


def reaction(
    kind: str, user: str, channel: str, ts: str, emoji: str = "pushpin"
) -> dict[str, object]:
    return {
        "type": kind,
        "user": user,
        "reaction": emoji,
        "item_user": "U0ALEX",
        "item": {"type": "message", "channel": channel, "ts": ts},
    }


def test_a_pushpin_reaction_captures_the_message_once_and_unreacting_removes_it(
    sender: SlackSender, slack: FakeSlack
) -> None:
    channel = declared(sender, slack)
    ts = slack.post_as("U0ALEX", channel.id, "DB CPU at 100% on primary")
    added = reaction("reaction_added", "U0SAM", channel.id, ts)
    assert sender.event(added, event_id="Ev0PIN1").status_code == 200
    shown = card_shows(slack, channel, "💬 <@U0ALEX>: “DB CPU at 100% on primary”")
    assert "/archives/" in str(shown) or "permalink" in str(
        slack.calls_to("chat.getPermalink")[-1].response
    )
    # Slack re-delivers the same event, and someone else pins the same message too.
    assert sender.event(added, event_id="Ev0PIN1", retry=1).status_code == 200
    sender.event(
        {
            "type": "pin_added",
            "user": "U0SAM",
            "channel_id": channel.id,
            "item": {
                "type": "message",
                "channel": channel.id,
                "message": {"ts": ts, "user": "U0ALEX", "text": "DB CPU at 100% on primary"},
            },
        }
    )
    sender.event(reaction("reaction_added", "U0SAM", channel.id, ts, emoji="eyes"))
    sender.server.wait_quiet()  # every event handled, every card edit done
    text = str(card(slack, channel)["blocks"])
    assert text.count("DB CPU at 100% on primary") == 1

    sender.event(reaction("reaction_removed", "U0SAM", channel.id, ts))
    wait_until(
        lambda: "DB CPU at 100%" not in str(card(slack, channel)["blocks"]),
        what="the entry removed",
    )


def test_messages_elsewhere_and_the_bots_own_pin_are_ignored(
    sender: SlackSender, slack: FakeSlack
) -> None:
    channel = declared(sender, slack)
    ts = slack.post_as("U0ALEX", "C0GENERAL", "unrelated chatter")
    sender.event(reaction("reaction_added", "U0SAM", "C0GENERAL", ts))
    sender.event(
        {
            "type": "pin_added",
            "user": "U0WARBOT",
            "channel_id": channel.id,
            "item": {
                "type": "message",
                "channel": channel.id,
                "message": {"ts": card(slack, channel)["ts"], "user": "U0WARBOT", "text": ""},
            },
        }
    )
    sender.server.wait_quiet()  # both events decided and any work they started finished
    assert "💬" not in str(card(slack, channel)["blocks"])


def shortcut(sender: SlackSender, channel: str, ts: str, user: str, text: str) -> tuple[int, str]:
    response_url = sender.fake.response_url()
    payload = {
        "type": "message_action",
        "callback_id": "incident.add_to_timeline",
        "trigger_id": f"{uuid.uuid4().int % 10**10}.{uuid.uuid4().hex[:12]}",
        "team": {"id": TEAM_ID, "domain": "warroom-e2e"},
        "user": {"id": user, "name": user.lower()},
        "channel": {"id": channel, "name": "x"},
        "message": {"type": "message", "ts": ts, "user": "U0ALEX", "text": text},
        "message_ts": ts,
        "response_url": response_url,
        "token": "deprecated-verification-token",
    }
    body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
    return sender.post(body).status_code, response_url


def test_the_shortcut_adds_a_message_from_any_channel(
    sender: SlackSender, slack: FakeSlack
) -> None:
    channel = declared(sender, slack)
    inside = slack.post_as("U0ALEX", channel.id, "Rolled back deploy 4512")
    status, url = shortcut(sender, channel.id, inside, "U0SAM", "Rolled back deploy 4512")
    assert status == 200
    (done,) = wait_until(lambda: slack.responses_to(url), what="the confirmation")
    assert "Added to INC-1's timeline" in done["text"]
    card_shows(slack, channel, "Rolled back deploy 4512")

    outside = slack.post_as("U0ALEX", "C0GENERAL", "Customer reports from EU")
    shortcut(sender, "C0GENERAL", outside, "U0SAM", "Customer reports from EU")
    view = wait_until(lambda: slack.calls_to("views.open"), what="the incident picker")[-1].args[
        "view"
    ]
    assert view["callback_id"] == "incident.add_to_timeline_form"
    sender.submit(
        view,
        {"incident": {"type": "static_select", "selected_option": {"value": "1"}}},
        user="U0SAM",
    )
    card_shows(slack, channel, "Customer reports from EU")


def test_mentions_show_as_mentions_and_captured_text_is_escaped_once(
    sender: SlackSender, slack: FakeSlack
) -> None:
    channel = declared(sender, slack)
    assert sender.command("note <@U0BOB|bob> is on it <!channel>", channel=channel.id).status_code
    card_shows(slack, channel, "Note by <@U0DECLARER>: <@U0BOB> is on it &lt;!channel&gt;")
    # Slack hands back what people type with &, < and > escaped: shown as typed, once.
    ts = slack.post_as("U0ALEX", channel.id, "a &lt; b &amp; c")
    sender.event(reaction("reaction_added", "U0SAM", channel.id, ts))
    shown = card_shows(slack, channel, "<@U0ALEX>: “a &lt; b &amp; c”")
    assert "&amp;lt;" not in str(shown["blocks"])
