"""Routing decisions: first match wins, the fallback notifies, severities and titles."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from bot.alerts.routing import (
    FALLBACK_ROUTE,
    TITLE_MAX,
    alert_title,
    route_alert_group,
    severity_from_labels,
)
from bot.policy.alerts import AlertRoute
from bot.policy.defaults import merge_policy_data
from bot.policy.schema import Policy, default_policy


def policy_with(**overrides: Any) -> Policy:
    return Policy.model_validate(merge_policy_data(overrides))


def route(**fields: Any) -> AlertRoute:
    return AlertRoute.model_validate(fields)


PAYMENTS = policy_with(
    alerts={
        "routes": [
            {
                "name": "payments",
                "matchers": ['team="payments"', 'severity=~"critical|error"'],
                "severity": "SEV1",
                "title": "{{ labels.alertname }} on {{ labels.service }}",
            },
            {"matchers": ['severity="warning"'], "action": "notify", "channel": "C0TRIAGE"},
            {"matchers": ['env="dev"'], "action": "drop"},
        ]
    }
)


@pytest.mark.parametrize(
    ("severity", "action", "index"),
    [
        ("critical", "declare", 0),
        ("error", "declare", 1),
        ("high", "declare", 1),
        ("warning", "notify", 2),
        ("info", "drop", 3),
        ("low", "drop", 3),
    ],
)
def test_the_built_in_routes(severity: str, action: str, index: int) -> None:
    decision = route_alert_group(
        default_policy(), labels={"severity": severity, "alertname": "X"}, annotations={}
    )
    assert (decision.action, decision.route_index) == (action, index)


def test_built_in_routes_take_the_severity_label_in_any_case() -> None:
    decision = route_alert_group(
        default_policy(), labels={"severity": "CRITICAL", "alertname": "DiskFull"}, annotations={}
    )
    assert (decision.route_index, decision.action, decision.severity) == (0, "declare", "SEV1")


def test_what_no_route_matches_is_notified_at_its_mapped_severity() -> None:
    decision = route_alert_group(
        default_policy(),
        labels={"severity": "P0", "alertname": "DiskFull"},  # a ladder alias, no route's word
        annotations={},
        announce_channel="C0ANNOUNCE",
    )
    assert decision.route_index == -1 and decision.route == FALLBACK_ROUTE
    assert decision.route == AlertRoute(action="notify")
    assert (decision.action, decision.severity) == ("notify", "SEV1")
    assert decision.channel == "C0ANNOUNCE"
    assert decision.route_label == "the fallback route"


def test_first_match_wins_and_a_pinned_severity_wins() -> None:
    labels = {"team": "payments", "severity": "error", "alertname": "Latency", "service": "api"}
    decision = route_alert_group(PAYMENTS, labels=labels, annotations={})
    assert (decision.route_index, decision.action, decision.severity) == (0, "declare", "SEV1")
    assert decision.title == "Latency on api"
    assert decision.route_label == "alerts.routes[0] (payments)"


def test_every_matcher_of_a_route_must_match() -> None:
    labels = {"team": "payments", "severity": "warning"}
    decision = route_alert_group(PAYMENTS, labels=labels, annotations={})
    assert (decision.route_index, decision.action, decision.severity) == (1, "notify", "SEV3")


def test_given_routes_replace_the_built_in_ones() -> None:
    decision = route_alert_group(PAYMENTS, labels={"severity": "critical"}, annotations={})
    assert (decision.route_index, decision.action) == (-1, "notify")


def test_a_route_without_matchers_takes_everything() -> None:
    policy = policy_with(alerts={"routes": [{"action": "drop"}, {"action": "declare"}]})
    decision = route_alert_group(policy, labels={}, annotations={})
    assert (decision.route_index, decision.action) == (0, "drop")


@pytest.mark.parametrize(
    ("action", "route_channel", "expected"),
    [
        ("notify", "C0TRIAGE", "C0TRIAGE"),
        ("notify", None, "C0ANNOUNCE"),
        ("declare", None, "C0ANNOUNCE"),
        ("drop", None, None),
    ],
)
def test_channels(action: str, route_channel: str | None, expected: str | None) -> None:
    policy = policy_with(alerts={"routes": [{"action": action, "channel": route_channel}]})
    decision = route_alert_group(policy, labels={}, annotations={}, announce_channel="C0ANNOUNCE")
    assert decision.channel == expected


def test_without_an_announce_channel_given_the_policy_s_own_is_used() -> None:
    policy = policy_with(announce_channel="C0POLICY", alerts={"routes": []})
    assert route_alert_group(policy, labels={}, annotations={}).channel == "C0POLICY"
    assert (
        route_alert_group(policy, labels={}, annotations={}, announce_channel="C0SET").channel
        == "C0SET"
    )


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("critical", "SEV1"),
        ("Critical", "SEV1"),
        (" ERROR ", "SEV2"),
        ("high", "SEV2"),
        ("warning", "SEV3"),
        ("info", "SEV4"),
        ("low", "SEV4"),
        ("SEV2", "SEV2"),
        ("sev4", "SEV4"),
        ("P1", "SEV2"),
        ("medium", "SEV3"),
        ("page", "SEV3"),
        ("", "SEV3"),
        (None, "SEV3"),
    ],
)
def test_severity_from_labels(label: str | None, expected: str) -> None:
    labels = {} if label is None else {"severity": label}
    assert severity_from_labels(default_policy(), labels) == expected


TWO_LEVELS = policy_with(
    severities=[
        {"name": "P0", "aliases": ["urgent"], "response": "15m"},
        {"name": "P1", "response": "1h"},
    ]
)


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("critical", "P0"),
        ("error", "P1"),
        ("warning", "P1"),  # the 3rd level, clamped to the ladder's length
        ("info", "P1"),
        ("urgent", "P0"),
        ("p0", "P0"),
        ("unknown", "P1"),
    ],
)
def test_severities_are_clamped_to_a_short_ladder(label: str, expected: str) -> None:
    assert severity_from_labels(TWO_LEVELS, {"severity": label}) == expected


def test_a_pinned_severity_ignores_the_label() -> None:
    policy = policy_with(alerts={"routes": [{"severity": "SEV2"}]})
    decision = route_alert_group(policy, labels={"severity": "info"}, annotations={})
    assert decision.severity == "SEV2"


def title(
    route_: AlertRoute,
    labels: dict[str, str],
    annotations: dict[str, str] | None = None,
    source_title: str | None = None,
) -> str:
    return alert_title(
        route_, labels=labels, annotations=annotations or {}, source_title=source_title
    )


@pytest.mark.parametrize(
    ("labels", "annotations", "source_title", "expected"),
    [
        ({"alertname": "HighLatency", "service": "api"}, {}, None, "HighLatency on api"),
        ({"alertname": "HighLatency"}, {"summary": "Slow"}, None, "HighLatency"),
        ({"service": "api"}, {"summary": "p99 over 2s"}, "Grafana", "p99 over 2s"),
        ({}, {}, "[FIRING:1] Disk", "[FIRING:1] Disk"),
        ({}, {}, None, "Alert"),
        ({"alertname": "  "}, {"summary": ""}, " ", "Alert"),
    ],
)
def test_default_titles(
    labels: dict[str, str], annotations: dict[str, str], source_title: str | None, expected: str
) -> None:
    assert title(AlertRoute(), labels, annotations, source_title) == expected


def test_a_title_template_sees_labels_annotations_and_the_source_title() -> None:
    template = route(
        title="[{{ labels.env | upper }}] {{ annotations.summary }} ({{ source_title }})"
    )
    assert title(template, {"env": "prod"}, {"summary": "Slow"}, "Grafana") == (
        "[PROD] Slow (Grafana)"
    )


def test_missing_names_render_empty() -> None:
    template = route(title="{{ labels.alertname }}{{ labels.nothing }}{{ labels.a.b }}{{ x }}")
    assert title(template, {"alertname": "Down"}) == "Down"


def test_an_empty_render_falls_back_to_the_default() -> None:
    template = route(title="{{ labels.nothing }}   ")
    assert title(template, {"alertname": "Down", "service": "db"}) == "Down on db"


def test_a_failing_render_falls_back_and_warns(caplog: pytest.LogCaptureFixture) -> None:
    template = route(title="{{ 1 / 0 }}")
    with caplog.at_level(logging.WARNING, logger="bot.alerts.routing"):
        assert title(template, {"alertname": "Down"}) == "Down"
    assert "ZeroDivisionError" in caplog.text


def test_the_sandbox_refuses_unsafe_templates(caplog: pytest.LogCaptureFixture) -> None:
    template = route(title="{{ labels.__class__.__mro__ }}{{ labels.clear() }}")
    labels = {"alertname": "Down"}
    with caplog.at_level(logging.WARNING, logger="bot.alerts.routing"):
        assert title(template, labels) == "Down"
    assert labels == {"alertname": "Down"}
    assert "failed" in caplog.text


def test_labels_are_data_never_template_source() -> None:
    labels = {"alertname": "{{ 7 * 7 }}", "service": "{% raw %}x"}
    assert title(AlertRoute(), labels) == "{{ 7 * 7 }} on {% raw %}x"
    assert title(route(title="{{ labels.alertname }}"), labels) == "{{ 7 * 7 }}"


def test_titles_are_one_line_and_cut() -> None:
    assert title(AlertRoute(), {"alertname": "Disk\n\tfull  on\r\nnode"}) == "Disk full on node"
    cut = title(AlertRoute(), {"alertname": "x" * 500})
    assert len(cut) == TITLE_MAX and cut.endswith("…")
    templated = title(route(title="{{ labels.a }}\n{{ labels.a }}"), {"a": "y" * 300})
    assert len(templated) == TITLE_MAX and "\n" not in templated
    assert title(AlertRoute(), {"alertname": "z" * TITLE_MAX}) == "z" * TITLE_MAX
