"""Declaring an incident through the real server, as Slack would drive it."""

from __future__ import annotations

import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import create_engine, text

from tests.e2e.conftest import DECLARER, SlackSender, WarroomServer, wait_until
from tests.support.fake_slack import FakeChannel, FakeSlack


def count_rows(database_url: str, table: str, where: str = "1 = 1") -> int:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            query = text(f"SELECT count(*) FROM {table} WHERE {where}")
            return int(connection.execute(query).scalar_one())
    finally:
        engine.dispose()


def pinned_card(slack: FakeSlack, name: str) -> tuple[FakeChannel, dict[str, Any]]:
    """Wait until channel `name` has its card posted and pinned; return both."""

    def ready() -> tuple[FakeChannel, dict[str, Any]] | None:
        channel = slack.channel_named(name)
        if channel is None or not channel.pins:
            return None
        (ts,) = channel.pins
        message = channel.message(ts)
        return (channel, message) if message else None

    return wait_until(ready, what=f"a pinned card in #{name}")  # type: ignore[no-any-return]


def section_text(message: dict[str, Any]) -> str:
    return "\n".join(b["text"]["text"] for b in message["blocks"] if b["type"] == "section")


def test_declare_opens_a_channel_with_the_pinned_card_and_announces_it(
    sender: SlackSender, slack: FakeSlack, database_url: str
) -> None:
    started = time.monotonic()
    response = sender.command("declare sev2 Checkout errors")
    assert time.monotonic() - started < 3
    assert response.status_code == 200
    ack = response.json()
    assert ack["text"].startswith("Declaring INC-1 (SEV2) Checkout errors")
    assert ack.get("response_type", "ephemeral") == "ephemeral"

    channel, card = pinned_card(slack, "inc-1-checkout-errors")
    assert not channel.is_private
    # The invite is its own delivery and may land after the pin.
    wait_until(lambda: DECLARER in channel.members, what="the declarer invited")
    header, *_ = card["blocks"]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": "🔴 INCIDENT ACTIVE · INC-1", "emoji": True},
    }
    body = section_text(card)
    for line in (
        "*Title*: Checkout errors",
        "*Severity*: SEV2 (Major degradation)",
        "*Impact*: Being assessed",
        "*Status*: Investigating",
        "*Started*: ",
        "*Next Update*: ",
        "*Timeline*:",
        f"Incident declared as SEV2 by <@{DECLARER}>",
    ):
        assert line in body
    announce = wait_until(lambda: slack.channels["C0ANNOUNCE"].messages, what="the announcement")
    (announcement,) = announce
    assert f"<#{channel.id}>" in section_text(announcement)
    assert "*INC-1* declared (SEV2): Checkout errors" in section_text(announcement)

    assert len(slack.calls_to("conversations.create")) == 1
    assert len(slack.calls_to("pins.add")) == 1
    assert count_rows(database_url, "incident") == 1
    # The declaration's entry (the automatic L1 step may have logged its own by now).
    assert count_rows(database_url, "timeline_entry", "kind = 'declared'") == 1


def test_private_declaration_gets_a_private_unannounced_channel(
    sender: SlackSender, slack: FakeSlack
) -> None:
    assert sender.command("declare --private sev1 Credential leak").status_code == 200
    channel, _ = pinned_card(slack, "inc-1-credential-leak")
    assert channel.is_private
    assert slack.channels["C0ANNOUNCE"].messages == []


def test_help_and_empty_command_answer_with_usage(sender: SlackSender, slack: FakeSlack) -> None:
    for text_ in ("help", "", "  "):
        answer = sender.command(text_).json()
        assert "/incident declare [--private] &lt;severity&gt; &lt;title&gt;" in answer["text"]
        assert "SEV1 (Complete outage)" in answer["text"]
    assert slack.calls_to("conversations.create") == []


def test_bad_commands_explain_and_create_nothing(
    sender: SlackSender, slack: FakeSlack, database_url: str
) -> None:
    cases = {
        "declare sev9 Checkout errors": "unknown severity 'sev9'; use one of SEV1, SEV2, SEV3",
        "declare sev2": "declare needs a title after the severity",
        "declare sev2    ": "declare needs a title after the severity",
        "declare --private": "declare needs a severity and a title",
        "frobnicate": "unknown command 'frobnicate'",
        "declare sev2 " + "x" * 300: "the title is 300 characters; keep it under 200",
    }
    for command, message in cases.items():
        response = sender.command(command)
        assert response.status_code == 200
        answer = response.json()["text"]
        assert message in answer, answer
        assert "/incident" in answer  # with usage
    assert count_rows(database_url, "incident") == 0
    assert slack.calls_to("conversations.create") == []


def test_hostile_titles_ping_nobody(sender: SlackSender, slack: FakeSlack) -> None:
    sender.command("declare sev3 <!channel> @here <https://evil.example|click> & co")
    _, card = pinned_card(slack, "inc-1-channel-here-https-evil-example-click-co")
    body = section_text(card)
    assert "&lt;!channel&gt; @here &lt;https://evil.example|click&gt; &amp; co" in body
    assert "<!channel>" not in card["text"] and "<https://evil" not in card["text"]


def test_bad_signature_and_stale_timestamp_are_refused(
    sender: SlackSender, slack: FakeSlack, database_url: str
) -> None:
    body = urllib.parse.urlencode(sender.command_body("declare sev2 Forged")).encode()
    assert sender.post(body, secret="not-the-secret").status_code == 401
    assert sender.post(body, timestamp=int(time.time()) - 301).status_code == 401
    assert sender.post(body, timestamp=int(time.time()) - 250).status_code == 200  # still fresh
    wait_until(lambda: slack.channel_named("inc-1-forged"), what="the one valid declaration")
    assert count_rows(database_url, "incident") == 1


def test_a_taken_channel_name_gets_another(sender: SlackSender, slack: FakeSlack) -> None:
    slack.add_channel("inc-1-checkout-errors")
    sender.command("declare sev2 Checkout errors")
    pinned_card(slack, "inc-1-checkout-errors-2")


def test_slack_errors_and_rate_limits_still_end_with_one_channel_and_one_card(
    sender: SlackSender, slack: FakeSlack
) -> None:
    slack.fail("conversations.create", status=500, times=3)
    slack.fail("chat.postMessage", status=500, times=3)
    slack.rate_limit("pins.add", retry_after=1, times=2)
    slack.rate_limit("conversations.invite", retry_after=1, times=1)
    assert sender.command("declare sev1 Database unreachable").status_code == 200
    channel, _ = pinned_card(slack, "inc-1-database-unreachable")
    wait_until(lambda: slack.channels["C0ANNOUNCE"].messages, what="the announcement")
    assert [c.name for c in slack.channels.values() if c.name.startswith("inc-")] == [channel.name]
    cards = [m for m in channel.messages if m.get("blocks")]
    assert len(cards) == 1 and len(channel.pins) == 1
    wait_until(lambda: DECLARER in channel.members, what="the declarer invited")
    assert len(slack.channels["C0ANNOUNCE"].messages) == 1
    statuses = [c.status for c in slack.calls_to("conversations.create")]
    assert statuses.count(500) == 3 and statuses.count(200) == 1


def test_pending_deliveries_survive_a_crash_and_land_once(
    make_server: Any, slack: FakeSlack, database_url: str
) -> None:
    first: WarroomServer = make_server()
    first.start()
    slack.fail("conversations.create", status=500, times=10_000)  # Slack is down
    sender = SlackSender(first, slack)
    assert (
        sender.command("declare sev2 Checkout errors").json()["text"].startswith("Declaring INC-1")
    )
    wait_until(lambda: len(slack.calls_to("conversations.create")) >= 2, what="a failed attempt")
    first.kill()
    assert slack.channel_named("inc-1-checkout-errors") is None
    slack.reset_failures()  # Slack is back

    second: WarroomServer = make_server()
    second.start()
    channel, _ = pinned_card(slack, "inc-1-checkout-errors")
    wait_until(lambda: slack.channels["C0ANNOUNCE"].messages, what="the announcement")
    second.wait_quiet()  # everything owed has landed: no late duplicate can follow
    assert len([m for m in channel.messages if m.get("blocks")]) == 1
    assert len(slack.channels["C0ANNOUNCE"].messages) == 1
    assert len([c for c in slack.calls_to("conversations.create") if c.status == 200]) == 1
    assert count_rows(database_url, "incident") == 1


def test_concurrent_declarations_get_distinct_numbers_and_channels(
    sender: SlackSender, slack: FakeSlack, database_url: str
) -> None:
    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda i: sender.command(f"declare sev3 Outage {i}"), range(10)))
    numbers = sorted(int(a.json()["text"].split()[1].removeprefix("INC-")) for a in answers)
    assert numbers == list(range(1, 11))
    wait_until(
        lambda: (
            sum(1 for c in slack.channels.values() if c.name.startswith("inc-") and c.pins) == 10
        ),
        what="ten pinned cards",
    )
    assert count_rows(database_url, "incident") == 10


def test_policy_file_sets_names_severities_and_announce_channel(
    make_server: Any, slack: FakeSlack, tmp_path: Any
) -> None:
    policy = tmp_path / "policy.yml"
    policy.write_text(
        """
severities:
  - {name: P0, description: Everything down, aliases: [critical], response: 5m, update_every: 10m}
  - {name: P1, description: Degraded, response: 30m, update_every: 20m}
channel_name: "incident-{number}-{severity}-{slug}"
announce_channel: C0GENERAL
""",
        encoding="utf-8",
    )
    server: WarroomServer = make_server(WARROOM_CONFIG=str(policy), WARROOM_ANNOUNCE_CHANNEL=None)
    server.start()
    sender = SlackSender(server, slack)
    assert (
        "unknown severity 'sev2'; use one of P0, P1"
        in sender.command("declare sev2 x").json()["text"]
    )
    assert (
        sender.command("declare critical Payments down")
        .json()["text"]
        .startswith("Declaring INC-1 (P0) Payments down")
    )
    _, card = pinned_card(slack, "incident-1-p0-payments-down")
    assert "*Severity*: P0 (Everything down)" in section_text(card)
    announce = wait_until(lambda: slack.channels["C0GENERAL"].messages, what="the announcement")
    assert "*INC-1* declared (P0)" in section_text(announce[0])
