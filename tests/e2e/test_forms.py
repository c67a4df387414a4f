"""The declaration and update forms, opened from commands and buttons, submitted back."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import SlackSender, wait_until
from tests.e2e.test_declare import pinned_card, section_text
from tests.e2e.test_lifecycle import card, card_shows, declared
from tests.support.fake_slack import FakeSlack


def opened_view(slack: FakeSlack, count: int = 1) -> dict[str, Any]:
    calls = wait_until(
        lambda: len(slack.calls_to("views.open")) >= count and slack.calls_to("views.open")
    )
    view: dict[str, Any] = calls[count - 1].args["view"]
    return view


def selected(value: str) -> dict[str, Any]:
    return {
        "type": "static_select",
        "selected_option": {"value": value, "text": {"type": "plain_text", "text": value}},
    }


def test_declare_form(sender: SlackSender, slack: FakeSlack) -> None:
    response = sender.command("declare")
    assert response.status_code == 200
    view = opened_view(slack)
    assert view["callback_id"] == "incident.declare_form"
    severities = next(b for b in view["blocks"] if b["block_id"] == "severity")
    options = severities["element"]["options"]
    assert [o["value"] for o in options] == ["SEV1", "SEV2", "SEV3", "SEV4"]
    assert options[0]["description"]["text"] == "Complete outage"

    refused = sender.submit(
        view, {"title": {"type": "plain_text_input", "value": "   "}, "severity": selected("SEV2")}
    )
    assert refused.json() == {
        "response_action": "errors",
        "errors": {"title": "the incident needs a title"},
    }
    assert slack.calls_to("conversations.create") == []

    accepted = sender.submit(
        view,
        {
            "title": {"type": "plain_text_input", "value": "Payments failing"},
            "severity": selected("SEV1"),
            "impact": {"type": "plain_text_input", "value": "EU customers cannot pay"},
            "private": {"type": "checkboxes", "selected_options": [{"value": "private"}]},
        },
    )
    assert accepted.status_code == 200
    channel, message = pinned_card(slack, "inc-1-payments-failing")
    assert channel.is_private
    assert "*Impact*: EU customers cannot pay" in section_text(message)
    assert slack.channels["C0ANNOUNCE"].messages == []


def test_update_form_and_text_update(sender: SlackSender, slack: FakeSlack) -> None:
    channel = declared(sender, slack)
    reply = sender.command("update --next 20m Failing over the database", channel=channel.id).json()
    assert "Update posted; next update by" in reply["text"]
    wait_until(
        lambda: any(
            "Failing over the database" in str(m.get("blocks"))
            for m in slack.channels[channel.id].messages
        ),
        what="the update in the channel",
    )

    sender.command("update", channel=channel.id)
    view = opened_view(slack)
    assert view["callback_id"] == "incident.update_form"
    assert view["title"]["text"] == "Update INC-1"
    sender.submit(
        view,
        {
            "status": selected("mitigating"),
            "impact": {"type": "plain_text_input", "value": "Checkout slow for 5% of users"},
            "text": {"type": "plain_text_input", "value": "Rolled back; watching error rates"},
            "next": selected("15m"),
        },
    )
    shown = card_shows(slack, channel, "*Status*: Mitigating")
    assert "*Impact*: Checkout slow for 5% of users" in section_text(shown)
    wait_until(
        lambda: any(
            "Rolled back; watching" in str(m.get("blocks"))
            for m in slack.channels[channel.id].messages
        ),
        what="the update from the form",
    )

    # The card's button opens the same form.
    message = card(slack, channel)
    sender.action(
        "incident.post_update", "1", user="U0ONCALL", channel=channel.id, message_ts=message["ts"]
    )
    assert opened_view(slack, count=2)["callback_id"] == "incident.update_form"
