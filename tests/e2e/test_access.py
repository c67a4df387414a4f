"""Private means private, through the real HTTP interface: someone who is not one of a
private incident's people can neither see, join nor change it, by command or button."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import SlackSender, wait_until
from tests.e2e.test_declare import count_rows, pinned_card
from tests.support.fake_slack import FakeSlack

STRANGER = "U0STRANGER"


@pytest.fixture
def private_channel(sender: SlackSender, slack: FakeSlack) -> str:
    sender.command("declare sev1 Credential leak --private")  # the flag after the title too
    channel, _ = pinned_card(slack, "inc-1-credential-leak")
    assert channel.is_private
    return channel.id


def said(sender: SlackSender, text: str, *, channel: str = "C0GENERAL") -> str:
    response = sender.command(text, user=STRANGER, channel=channel)
    assert response.status_code == 200
    return str(response.json().get("text") or response.json())


def test_a_stranger_gets_what_a_number_never_used_gets(
    sender: SlackSender, slack: FakeSlack, private_channel: str
) -> None:
    for command in (
        "role INC-1 scribe <@U0STRANGER|stranger>",
        "ack INC-1",
        "note INC-1 I am in",
        "status INC-1 mitigating",
        "update INC-1 all good",
        "update INC-1",
        "timeline INC-1",
        "roles INC-1",
        "resolve INC-1",
    ):
        missing = said(sender, command.replace("INC-1", "INC-404"))
        assert said(sender, command) == missing.replace("INC-404", "INC-1"), command
    assert "INC-1" not in said(sender, "list")
    assert STRANGER not in slack.channels[private_channel].members
    sender.server.wait_quiet()
    assert STRANGER not in slack.channels[private_channel].members


def test_the_cards_buttons_check_who_presses(
    sender: SlackSender, slack: FakeSlack, private_channel: str, database_url: str
) -> None:
    card_ts = next(iter(slack.channels[private_channel].pins))
    response, url = sender.action(
        "incident.acknowledge", "1", user=STRANGER, channel="C0GENERAL", message_ts=card_ts
    )
    assert response.status_code == 200
    (refusal,) = wait_until(lambda: slack.responses_to(url), what="the refusal")
    assert "there is no INC-1" in refusal["text"]
    sender.server.wait_quiet()
    assert count_rows(database_url, "timeline_entry", "kind = 'acknowledged'") == 0
