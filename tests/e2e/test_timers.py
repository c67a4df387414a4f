"""Next Update reminders through the real server, with cadences in seconds."""

from __future__ import annotations

import time
from itertools import pairwise
from typing import Any

import pytest

from tests.conftest import postgres_admin_url
from tests.e2e.conftest import SlackSender, WarroomServer, wait_until
from tests.e2e.test_lifecycle import answer, card_shows, declared
from tests.support.fake_pager import FakePager
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
    updated = time.time()
    assert "Update posted" in answer(sender, "update --next 5s Working on it", channel.id)
    seen = len(reminders(slack, channel))
    # The old cadence (3 s) would remind before the new deadline (5 s): the next reminder
    # must be the new deadline's, and nothing may come before it.
    wait_until(lambda: len(reminders(slack, channel)) > seen, timeout=20, what="the new deadline's")
    (next_one,) = reminders(slack, channel)[seen:]
    assert float(next_one["ts"]) >= updated + 5, "reminded on the cadence the update reset"
    seen += 1

    assert "Update posted" in answer(sender, "update --next 2s Almost there", channel.id)
    due = time.time() + 2
    first.kill()  # down while the deadline passes
    wait_until(lambda: time.time() > due, what="the deadline to pass with no server up")
    second: WarroomServer = make_server(WARROOM_CONFIG=fast_policy(tmp_path))
    second.start()
    wait_until(lambda: len(reminders(slack, channel)) == seen + 1, what="the missed reminder")
    assert "Almost there" not in str(reminders(slack, channel)[-1])


def test_paging_follows_the_incident_trigger_acknowledge_resolve(
    make_server: Any, slack: FakeSlack, tmp_path: Any
) -> None:
    pager = FakePager()
    pager.start()
    try:
        pager.failures = [500]  # PagerDuty hiccups on the first trigger
        policy = tmp_path / "policy.yml"
        policy.write_text(
            f"pagerduty_url: {pager.base_url}\n"
            "escalation:\n"
            "  - level: L1\n"
            "    name: On-call engineer\n"
            "    contacts: {users: [U0ONCALL], pagerduty: {routing_key_env: WARROOM_PD_KEY}}\n",
            encoding="utf-8",
        )
        server = make_server(WARROOM_CONFIG=str(policy), WARROOM_PD_KEY="pd-routing-key")
        server.start()
        sender = SlackSender(server, slack)
        channel = declared(sender, slack)
        wait_until(lambda: len(pager.events()) >= 2, what="the trigger, retried after a 500")
        answer(sender, "ack", channel.id, user="U0ONCALL")
        answer(sender, "resolve Failed over", channel.id, user="U0ONCALL")
        wait_until(lambda: len(pager.events()) >= 4, what="acknowledge and resolve")
        events = pager.events()
        assert [e.body["event_action"] for e in events] == [
            "trigger",
            "trigger",
            "acknowledge",
            "resolve",
        ]
        assert {e.body["dedup_key"] for e in events} == {"INC-1"}
        assert all(
            e.path == "/v2/enqueue" and e.body["routing_key"] == "pd-routing-key" for e in events
        )
        assert events[0].body["payload"]["severity"] == "error"
    finally:
        pager.stop()


@pytest.mark.skipif(
    postgres_admin_url() is None, reason="several processes share one database only on Postgres"
)
def test_two_processes_on_postgres_fire_each_reminder_once(
    make_server: Any, slack: FakeSlack, tmp_path: Any
) -> None:
    policy = fast_policy(tmp_path)
    # Each process paces its own posts: two may each post in one channel within a second.
    slack.one_post_a_second = False
    servers = [make_server(WARROOM_CONFIG=policy) for _ in range(2)]
    for server in servers:
        server.start()
    senders = [SlackSender(server, slack) for server in servers]
    for i in range(6):
        senders[i % 2].command(f"declare sev2 Outage {i}")
    channels = wait_until(
        lambda: (
            [c for c in slack.channels.values() if c.name.startswith("inc-") and c.pins]
            if sum(1 for c in slack.channels.values() if c.name.startswith("inc-") and c.pins) == 6
            else None
        ),
        what="six incidents",
    )
    # Three cadences of 3 s, from either process: a reminder fired twice would land within
    # moments of the first, long before the next cadence's.
    wait_until(
        lambda: all(len(reminders(slack, channel)) >= 3 for channel in channels),
        timeout=30,
        what="three reminders in each incident",
    )
    for channel in channels:
        stamps = sorted(float(m["ts"]) for m in reminders(slack, channel))
        gaps = [b - a for a, b in pairwise(stamps)]
        assert all(gap > 2 for gap in gaps), f"a reminder fired twice: {stamps}"
