"""Next Update reminders through the real server, with cadences in seconds."""

from __future__ import annotations

import time
from typing import Any

from tests.e2e.conftest import SlackSender, WarroomServer, wait_until
from tests.e2e.test_lifecycle import answer, card_shows, declared
from tests.support.fake_slack import FakeChannel, FakeSlack


def reminders(slack: FakeSlack, channel: FakeChannel) -> list[dict[str, Any]]:
    return [m for m in slack.channels[channel.id].messages if "⏰" in str(m.get("blocks"))]


def fast_policy(tmp_path: Any) -> str:
    policy = tmp_path / "policy.yml"
    policy.write_text("severities:\n  - {name: SEV2, update_every: 3s}\n", encoding="utf-8")
    return str(policy)


def test_reminders_fire_reset_on_update_and_survive_a_crash(
    make_server: Any, slack: FakeSlack, tmp_path: Any
) -> None:
    first: WarroomServer = make_server(WARROOM_CONFIG=fast_policy(tmp_path))
    first.start()
    sender = SlackSender(first, slack)
    channel = declared(sender, slack)
    wait_until(lambda: reminders(slack, channel), what="the first reminder")
    card_shows(slack, channel, "⚠️ overdue by")
    assert "Update posted" in answer(sender, "update --next 1h Working on it", channel.id)
    seen = len(reminders(slack, channel))
    time.sleep(4)  # past the old cadence: the update moved the deadline an hour away
    assert len(reminders(slack, channel)) == seen

    assert "Update posted" in answer(sender, "update --next 2s Almost there", channel.id)
    first.kill()  # down while the deadline passes
    time.sleep(3)
    second: WarroomServer = make_server(WARROOM_CONFIG=fast_policy(tmp_path))
    second.start()
    wait_until(lambda: len(reminders(slack, channel)) == seen + 1, what="the missed reminder")
    assert "Almost there" not in str(reminders(slack, channel)[-1])
