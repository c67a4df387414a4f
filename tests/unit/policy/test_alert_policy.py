"""The policy's alerts: section: defaults, the file's routes, and their errors by name."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from bot.alerts.matchers import Matcher
from bot.errors import ConfigurationError
from bot.policy.alerts import BUILT_IN_ROUTES, AlertRoute, AlertSourceConfig
from bot.policy.schema import AlertsPolicy, Duration, default_policy, load_policy

EXAMPLE = """\
alerts:
  sources:
    alertmanager: {token_env: WARROOM_AM_TOKEN, alertmanager_url: "http://alertmanager:9093"}
    grafana: {token_env: WARROOM_GRAFANA_TOKEN, hmac_secret_env: WARROOM_GRAFANA_HMAC}
    generic: {token_env: WARROOM_GENERIC_TOKEN}
  routes:
    - matchers: ['team="payments"', 'severity=~"critical|error"']
      action: declare
      severity: SEV1
      title: "{{ labels.alertname }} on {{ labels.service }}"
      runbook: app-unresponsive
      auto_resolve: false
      reopen_within: 1h
      max_new_incidents_per_minute: 10
    - {matchers: ['severity="warning"'], action: notify, channel: C0TRIAGE}
diagnostics:
  checks:
    - {name: api-health, type: http, url: "https://api.example.com/api/health"}
  runbooks:
    - {name: app-unresponsive, steps: [{check: api-health}]}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigurationError) as raised:
        load_policy(write(tmp_path, text))
    lines = str(raised.value).splitlines()
    assert lines[0].endswith("is invalid:")
    return lines[1:]


def test_defaults() -> None:
    alerts = default_policy().alerts
    assert alerts == AlertsPolicy()
    assert alerts.coalesce == timedelta(seconds=3)
    assert alerts.sources.alertmanager is None and alerts.sources.grafana is None
    assert [([str(m) for m in r.matchers], r.action) for r in alerts.routes] == [
        (['severity=~"(?i)critical"'], "declare"),
        (['severity=~"(?i)error|high"'], "declare"),
        (['severity=~"(?i)warning"'], "notify"),
        (['severity=~"(?i)info|low"'], "drop"),
    ]
    assert alerts.routes == BUILT_IN_ROUTES
    route = alerts.routes[2]
    assert (route.channel, route.severity, route.title, route.runbook) == (None, None, None, None)
    assert route.auto_resolve is False
    assert route.reopen_within == timedelta(hours=1)
    assert route.max_new_incidents_per_minute == 10


def test_the_example_loads_and_replaces_the_built_in_routes(tmp_path: Path) -> None:
    alerts = load_policy(write(tmp_path, EXAMPLE)).alerts
    assert alerts.sources.alertmanager == AlertSourceConfig(
        token_env="WARROOM_AM_TOKEN", alertmanager_url="http://alertmanager:9093"
    )
    assert alerts.sources.grafana is not None
    assert alerts.sources.grafana.hmac_secret_env == "WARROOM_GRAFANA_HMAC"
    assert alerts.sources.generic == AlertSourceConfig(token_env="WARROOM_GENERIC_TOKEN")
    assert len(alerts.routes) == 2
    payments, triage = alerts.routes
    assert payments.matchers == (
        Matcher("team", "=", "payments"),
        Matcher("severity", "=~", "critical|error"),
    )
    assert (payments.action, payments.severity, payments.runbook) == (
        "declare", "SEV1", "app-unresponsive",
    )  # fmt: skip
    assert payments.title == "{{ labels.alertname }} on {{ labels.service }}"
    assert (triage.action, triage.channel, triage.severity) == ("notify", "C0TRIAGE", None)
    assert alerts.coalesce == timedelta(seconds=3)


def test_coalesce_and_an_empty_route_list(tmp_path: Path) -> None:
    alerts = load_policy(write(tmp_path, "alerts:\n  coalesce: 10s\n  routes: []\n")).alerts
    assert alerts.coalesce == timedelta(seconds=10)
    assert alerts.routes == ()  # everything falls to the implicit notify


def test_a_section_without_routes_keeps_the_built_in_ones(tmp_path: Path) -> None:
    text = "alerts:\n  sources:\n    generic: {token_env: GENERIC}\n"
    assert load_policy(write(tmp_path, text)).alerts.routes == BUILT_IN_ROUTES


def test_the_effective_policy_round_trips(tmp_path: Path) -> None:
    for text in ("", EXAMPLE):
        policy = load_policy(write(tmp_path, text))
        printed = policy.as_yaml()
        dumped = yaml.safe_load(printed)["alerts"]
        assert dumped["coalesce"] == "3s"
        assert isinstance(dumped["routes"][0]["matchers"][0], str)
        again = tmp_path / "again.yml"
        again.write_text(printed, encoding="utf-8")
        assert load_policy(again) == policy


def test_matchers_print_back_as_text() -> None:
    route = AlertRoute.model_validate({"matchers": ["severity=critical", 'msg="a \\"b\\""']})
    assert route.model_dump(mode="json")["matchers"] == ['severity="critical"', 'msg="a \\"b\\""']
    assert AlertRoute.model_validate(route.model_dump()) == route


@pytest.mark.parametrize(
    ("route", "expected"),
    [
        (
            "{name: payments, matchers: ['team=\"payments\"', 'severity=~\"(\"']}",
            "  - alerts.routes[0] (payments).matchers[1]: bad matcher 'severity=~\"(\"': "
            "invalid regex '(': missing ), unterminated subpattern at position 0",
        ),
        (
            "{matchers: ['team'], action: notify}",
            "  - alerts.routes[0].matchers[0]: bad matcher 'team': write name=\"value\", "
            'name!="value", name=~"regex" or name!~"regex"',
        ),
        (
            "{matchers: [{team: payments}]}",
            "  - alerts.routes[0].matchers[0]: a matcher is written as text, like "
            "severity=\"critical\" (got {'team': 'payments'})",
        ),
        (
            "{name: broken, title: '{{ labels.alertname '}",
            "  - alerts.routes[0] (broken).title: title '{{ labels.alertname ' is not a valid "
            "template: unexpected end of template, expected 'end of print statement' (line 1)",
        ),
        (
            "{title: '{{ labels.x | shout }}'}",
            "  - alerts.routes[0].title: title '{{ labels.x | shout }}' is not a valid "
            "template: No filter named 'shout' (line 1)",
        ),
        (
            "{severity: SEV9}",
            "  - alerts.routes[0].severity: unknown severity 'SEV9'; "
            "use one of SEV1, SEV2, SEV3, SEV4",
        ),
        (
            "{name: payments, severity: P1}",
            "  - alerts.routes[0] (payments).severity: 'P1' is another spelling of SEV2: "
            "write SEV2",
        ),
        (
            "{action: page}",
            "  - alerts.routes[0].action: Input should be 'declare', 'notify' or 'drop' "
            "(got 'page')",
        ),
        (
            "{max_new_incidents_per_minute: 0}",
            "  - alerts.routes[0].max_new_incidents_per_minute: Input should be greater than "
            "or equal to 1 (got 0)",
        ),
        (
            "{reopen_within: 60}",
            "  - alerts.routes[0].reopen_within: invalid duration 60: write it with a unit, "
            "like 30s, 15m or 1h (got 60)",
        ),
        (
            "{matcher: ['a=b']}",
            "  - alerts.routes[0].matcher: Extra inputs are not permitted",
        ),
    ],
)
def test_a_bad_route_is_named(tmp_path: Path, route: str, expected: str) -> None:
    found = problems(tmp_path, f"alerts:\n  routes:\n    - {{action: drop}}\n    - {route}\n")
    assert found == [expected.replace("routes[0]", "routes[1]")]


def test_every_bad_route_is_listed(tmp_path: Path) -> None:
    text = "alerts:\n  routes:\n    - {severity: SEV9}\n    - {severity: critical}\n"
    assert problems(tmp_path, text) == [
        "  - alerts.routes[0].severity: unknown severity 'SEV9'; use one of SEV1, SEV2, SEV3, SEV4",
        "  - alerts.routes[1].severity: 'critical' is another spelling of SEV1: write SEV1",
    ]


def test_a_pinned_severity_follows_the_ladder_of_the_file(tmp_path: Path) -> None:
    text = (
        "severities:\n  - {name: P0, response: 15m}\n  - {name: P1, response: 1h}\n"
        "alerts:\n  routes:\n    - {severity: P1}\n    - {severity: SEV1}\n"
    )
    assert problems(tmp_path, text) == [
        "  - alerts.routes[1].severity: unknown severity 'SEV1'; use one of P0, P1"
    ]


def test_bad_sources_and_coalesce(tmp_path: Path) -> None:
    text = (
        "alerts:\n  coalesce: soon\n  sources:\n"
        "    alertmanager: {alertmanager_url: 'alertmanager:9093'}\n"
        "    pagerduty: {token_env: X}\n"
    )
    found = problems(tmp_path, text)
    assert [line.split(":")[0] for line in found] == [
        "  - alerts.sources.alertmanager.alertmanager_url",
        "  - alerts.sources.pagerduty",
        "  - alerts.coalesce",
    ]


def test_a_title_is_compiled_when_the_route_is_validated() -> None:
    with pytest.raises(ValidationError) as raised:
        AlertRoute(title="{% if %}")
    assert "title '{% if %}' is not a valid template" in str(raised.value)


def test_duration_is_still_importable_from_the_schema() -> None:
    from bot.policy import fields

    assert Duration is fields.Duration
