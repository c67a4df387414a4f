"""GET /metrics of the real server, scraped over HTTP as Prometheus would, while an incident
is declared, reminded, acknowledged and resolved from Slack."""

from __future__ import annotations

from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import SlackSender, WarroomServer, wait_until
from tests.e2e.test_lifecycle import answer, declared
from tests.e2e.test_timers import fast_policy, reminders
from tests.support.fake_slack import FakeSlack

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(server: WarroomServer) -> Samples:
    response = httpx.get(f"{server.url}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def scraped_once(server: WarroomServer, name: str, minimum: float = 1, **labels: str) -> Samples:
    """Scrape until `name{labels}` reaches `minimum`; that scrape."""

    def reached() -> Samples | None:
        samples = scrape(server)
        found = value(samples, name, **labels)
        return samples if found is not None and found >= minimum else None

    return wait_until(reached, what=f"{name}{labels} to reach {minimum}")  # type: ignore[no-any-return]


def test_metrics_move_as_the_incident_moves(
    make_server: Any, slack: FakeSlack, tmp_path: Any
) -> None:
    server: WarroomServer = make_server(WARROOM_CONFIG=fast_policy(tmp_path))  # SEV2 every 3 s
    server.start()
    sender = SlackSender(server, slack)
    before = scrape(server)
    sev2_command = {"severity": "SEV2", "source": "command"}
    assert value(before, "warroom_incidents_declared_total", **sev2_command) == 0
    assert value(before, "warroom_open_incidents", severity="SEV2") == 0
    assert value(before, "warroom_outbox_pending") == 0
    assert value(before, "warroom_database_read_ok") == 1

    # Slack answers the channel's creation with a 429 first: slack_sdk retries it and the
    # declaration never hears of it, but the metrics do.
    slack.rate_limit("conversations.create", retry_after=0)
    channel = declared(sender, slack)
    samples = scrape(server)
    assert value(samples, "warroom_incidents_declared_total", **sev2_command) == 1
    assert value(samples, "warroom_open_incidents", severity="SEV2") == 1
    created = {"platform": "slack", "method": "conversations.create"}
    assert value(samples, "warroom_chat_api_calls_total", **created, outcome="rate_limited") == 1
    assert value(samples, "warroom_chat_api_calls_total", **created, outcome="ok") == 1
    assert value(samples, "warroom_chat_api_rate_limited_total", **created) == 1
    posted = {"platform": "slack", "method": "chat.postMessage", "outcome": "ok"}
    assert (value(samples, "warroom_chat_api_calls_total", **posted) or 0) >= 1

    # The Next Update reminder fires (3 s cadence): how late it ran against its due time.
    wait_until(lambda: reminders(slack, channel), what="the first reminder")
    samples = scraped_once(server, "warroom_timer_lateness_seconds_count", timer="reminder")
    late = value(samples, "warroom_timer_lateness_seconds_sum", timer="reminder")
    fired = value(samples, "warroom_timer_lateness_seconds_count", timer="reminder")
    assert late is not None and fired  # a tick runs at the deadline, not a poll later
    assert 0 <= late / fired < 2

    assert answer(sender, "ack", channel.id, user="U0ONCALL").startswith("✅ INC-1 acknowledged")
    samples = scrape(server)
    assert value(samples, "warroom_time_to_acknowledge_seconds_count", severity="SEV2") == 1
    assert value(samples, "warroom_time_to_resolve_seconds_count", severity="SEV2") == 0

    assert "INC-1 resolved after" in answer(sender, "resolve Rolled back", channel.id)
    samples = scrape(server)
    assert value(samples, "warroom_incidents_resolved_total", **sev2_command) == 1
    assert value(samples, "warroom_open_incidents", severity="SEV2") == 0
    assert value(samples, "warroom_time_to_resolve_seconds_count", severity="SEV2") == 1
    took = value(samples, "warroom_time_to_resolve_seconds_sum", severity="SEV2")
    assert took is not None and took > 0

    # An alert webhook with no token configured is refused, and counted as answered.
    refused = httpx.post(f"{server.url}/alerts/generic", json={"title": "x"}, timeout=10)
    assert refused.status_code == 503
    samples = scrape(server)
    assert value(samples, "warroom_alert_webhooks_total", source="generic", status="503") == 1

    server.wait_quiet()
    samples = scrape(server)
    assert value(samples, "warroom_outbox_pending") == 0
    assert value(samples, "warroom_outbox_oldest_pending_age_seconds") == 0
