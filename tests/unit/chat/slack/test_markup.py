"""Slack's markup in and out: its mentions become our references and back again."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.chat.slack.blocks import to_mrkdwn, to_plain
from bot.chat.slack.markup import from_slack_text, message_time
from bot.text.markdown import channel_ref, escape_markdown, group_ref, user_ref


@pytest.mark.parametrize(
    ("slack", "ours"),
    [
        ("<@U0ALEX|alex> is on it", "<user:U0ALEX> is on it"),
        ("ping <@W0ALEX>", "ping <user:W0ALEX>"),
        ("see <#C0123|general>", "see <channel:C0123>"),
        ("call <!subteam^S0LEADS|@leads>", "call <group:S0LEADS>"),
        ("a &lt; b &amp; c &gt; d", "a < b & c > d"),  # Slack's escapes, read once
        ("<!channel> stays text", "<!channel> stays text"),
    ],
)
def test_slack_text_in_our_terms(slack: str, ours: str) -> None:
    assert from_slack_text(slack) == ours


def test_references_become_slack_mentions_and_broadcasts_stay_text() -> None:
    markdown = f"{user_ref('U1')} {group_ref('S1')} {channel_ref('C1')} " + escape_markdown(
        "<user:U2> is on it <!here> <@U3>"
    )
    assert to_mrkdwn(markdown) == (
        "<@U1> <!subteam^S1> <#C1> <@U2> is on it &lt;!here&gt; &lt;@U3&gt;"
    )
    assert to_plain(f"by {user_ref('U1')}") == "by U1"


def test_a_message_id_tells_when_it_was_posted() -> None:
    assert message_time("1700000000.000100") == datetime(2023, 11, 14, 22, 13, 20, 100, UTC)
    assert message_time("not-a-ts") is None
