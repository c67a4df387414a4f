"""The policy's diagnostics: section: what a valid one gives, and each mistake by name."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bot.errors import ConfigurationError
from bot.policy.diagnostics import (
    CommandCheck,
    DiagnosticsPolicy,
    DnsCheck,
    EnvRef,
    HttpCheck,
    PostgresCheck,
    PrometheusCheck,
    TcpCheck,
    TlsCheck,
)
from bot.policy.schema import load_policy

EXAMPLE = """\
diagnostics:
  run: {roles: [commander], users: [U0ONCALL]}
  checks:
    - name: api-health
      type: http
      url: "https://api.example.com/health?verbose=1"
      headers: {Authorization: {env: WARROOM_DIAG_API_TOKEN}, Accept: application/json}
      expect_status: [200, 204]
      expect: ['$.status == "ok"', "$.db.latency_ms < 200"]
      timeout: 3s
    - {name: db-port, type: tcp, host: db.internal, port: 5432}
    - {name: db, type: postgres, dsn_env: WARROOM_DIAG_DSN, warn_query_age: 1m}
    - {name: api-dns, type: dns, host: api.example.com, expect_address: [10.0.0.1, "::1"]}
    - {name: api-cert, type: tls, host: api.example.com, warn_days: 21, fail_days: 7}
    - name: p99
      type: prometheus
      url: "http://prometheus:9090"
      query: histogram_quantile(0.99, rate(http_request_duration_seconds_bucket[5m]))
      warn_above: 0.5
      fail_above: 2
      unit: s
    - name: pods
      type: command
      argv: [kubectl, get, pods, -n, payments]
      env: {KUBECONFIG: /etc/warroom/kube, TOKEN: {env: WARROOM_DIAG_KUBE_TOKEN}}
      timeout: 10s
  runbooks:
    - name: app-unresponsive
      title: App unresponsive
      steps:
        - {check: api-dns}
        - {check: api-health, hint: "Restart the api pods"}
        - {check: db}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigurationError) as raised:
        load_policy(write(tmp_path, text))
    return str(raised.value).splitlines()[1:]


def invalid(data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as raised:
        DiagnosticsPolicy.model_validate(data)
    return str(raised.value)


def http(**fields: Any) -> dict[str, Any]:
    return {"name": "api", "type": "http", "url": "http://127.0.0.1/health", **fields}


def test_the_example_loads(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, EXAMPLE)).diagnostics
    assert policy.check_names() == [
        "api-health",
        "db-port",
        "db",
        "api-dns",
        "api-cert",
        "p99",
        "pods",
    ]
    api = policy.check("api-health")
    assert isinstance(api, HttpCheck)
    assert api.headers["Authorization"] == EnvRef(env="WARROOM_DIAG_API_TOKEN")
    assert api.statuses() == (200, 204)
    assert [expectation.text for expectation in api.expect] == [
        '$.status == "ok"',
        "$.db.latency_ms < 200",
    ]
    assert api.timeout == timedelta(seconds=3)
    # What /incident diag shows: never the query string (it may hold a token).
    assert api.target() == "GET https://api.example.com/health"
    assert isinstance(policy.check("db-port"), TcpCheck)
    db = policy.check("db")
    assert isinstance(db, PostgresCheck) and db.warn_query_age == timedelta(minutes=1)
    dns = policy.check("api-dns")
    assert isinstance(dns, DnsCheck) and dns.addresses() == ("10.0.0.1", "::1")
    assert isinstance(policy.check("api-cert"), TlsCheck)
    p99 = policy.check("p99")
    assert isinstance(p99, PrometheusCheck) and p99.fail_above == 2
    pods = policy.check("pods")
    assert isinstance(pods, CommandCheck) and pods.target() == "kubectl get pods -n payments"
    assert policy.check("missing") is None
    runbook = policy.runbook("app-unresponsive")
    assert runbook is not None and runbook.label() == "App unresponsive"
    assert [step.check for step in runbook.steps] == ["api-dns", "api-health", "db"]


def test_no_diagnostics_section_means_none() -> None:
    policy = DiagnosticsPolicy()
    assert policy.checks == () and policy.runbooks == () and policy.run is None


def test_missing_environment_names_each_variable_once(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, EXAMPLE)).diagnostics
    assert policy.missing_environment({"WARROOM_DIAG_DSN": "postgresql://x"}) == [
        "diagnostics check api-health: $WARROOM_DIAG_API_TOKEN is not set, so the check cannot run",
        "diagnostics check pods: $WARROOM_DIAG_KUBE_TOKEN is not set, so the check cannot run",
    ]
    everything = {
        "WARROOM_DIAG_API_TOKEN": "t",
        "WARROOM_DIAG_DSN": "d",
        "WARROOM_DIAG_KUBE_TOKEN": "k",
    }
    assert policy.missing_environment(everything) == []
    # Set but empty is not set.
    assert len(policy.missing_environment({**everything, "WARROOM_DIAG_DSN": ""})) == 1
    twice = DiagnosticsPolicy.model_validate(
        {"checks": [http(headers={"A": {"env": "TOKEN"}, "B": {"env": "TOKEN"}})]}
    )
    assert twice.missing_environment({}) == [
        "diagnostics check api: $TOKEN is not set, so the check cannot run"
    ]


def test_an_unknown_type(tmp_path: Path) -> None:
    text = "diagnostics:\n  checks:\n    - {name: files, type: ftp, host: x}\n"
    [line] = problems(tmp_path, text)
    assert line.startswith("  - diagnostics.checks[0] (files): ")
    assert "'ftp'" in line and "'http'" in line and "'command'" in line


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/", "example.com/health", "http://", "http:///path", "not a url", ""],
)
def test_a_bad_url(url: str) -> None:
    assert "is not an http:// or https:// URL with a host" in invalid({"checks": [http(url=url)]})
    prometheus = {"name": "p", "type": "prometheus", "url": url, "query": "up"}
    assert "URL" in invalid({"checks": [prometheus]})


@pytest.mark.parametrize(
    ("expectation", "problem"),
    [
        ("$.status == ok", "'ok' is not a JSON value"),
        ('status == "ok"', "starts with a path from $"),
        ('$.a < "x"', "< compares numbers only"),
        ("$.a[", "cannot read the path"),
    ],
)
def test_a_bad_expectation(expectation: str, problem: str) -> None:
    assert problem in invalid({"checks": [http(expect=[expectation])]})


def test_an_expectation_must_be_text() -> None:
    assert "an expectation is text" in invalid({"checks": [http(expect=[{"status": "ok"}])]})


def test_duplicate_names_are_named() -> None:
    message = invalid(
        {
            "checks": [http(), {"name": "api", "type": "tcp", "host": "db", "port": 5432}],
            "runbooks": [{"name": "api", "steps": [{"check": "api"}]}],
        }
    )
    assert "diagnostics.checks[1] (api): the name is used by diagnostics.checks[0] (api) too" in (
        message
    )
    assert "diagnostics.runbooks[0] (api): the name is used by diagnostics.checks[0] (api) too" in (
        message
    )


def test_the_names_a_check_may_take() -> None:
    for name in ("Api", "api health", "-api", "a" * 64, ""):
        assert "name" in invalid({"checks": [http(name=name)]})
    DiagnosticsPolicy.model_validate({"checks": [http(name="a" * 63), http(name="db.primary_1")]})


@pytest.mark.parametrize("name", ["all", "list", "help"])
def test_reserved_names(name: str) -> None:
    assert f"{name!r} means something else to /incident diag" in invalid(
        {"checks": [http(name=name)]}
    )
    message = invalid(
        {"checks": [http()], "runbooks": [{"name": name, "steps": [{"check": "api"}]}]}
    )
    assert f"diagnostics.runbooks[0] ({name}): {name!r} means something else" in message


def test_a_runbook_step_naming_an_unknown_check() -> None:
    message = invalid(
        {
            "checks": [http()],
            "runbooks": [{"name": "rb", "steps": [{"check": "api"}, {"check": "nope"}]}],
        }
    )
    assert "diagnostics.runbooks[0] (rb).steps[1]: no check is named 'nope'" in message


def test_a_runbook_has_steps() -> None:
    assert "steps" in invalid({"checks": [http()], "runbooks": [{"name": "rb", "steps": []}]})


def test_every_name_problem_reaches_the_operator(tmp_path: Path) -> None:
    text = (
        "diagnostics:\n  checks:\n"
        "    - {name: help, type: tcp, host: db, port: 5432}\n"
        "    - {name: db, type: tcp, host: db, port: 5432}\n"
        "    - {name: db, type: tcp, host: db, port: 5433}\n"
        "  runbooks:\n    - {name: rb, steps: [{check: gone}]}\n"
    )
    report = "\n".join(problems(tmp_path, text))
    for problem in (
        "diagnostics.checks[0] (help): 'help' means something else to /incident diag",
        "diagnostics.checks[2] (db): the name is used by diagnostics.checks[1] (db) too",
        "diagnostics.runbooks[0] (rb).steps[0]: no check is named 'gone'",
    ):
        assert problem in report


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"timeout": "0s"}, "timeout must be longer than 0s and at most 5m"),
        ({"timeout": "6m"}, "timeout must be longer than 0s and at most 5m"),
        ({"timeout": 5}, "write it with a unit"),
        ({"method": "DELETE"}, "method"),
        ({"expect_status": 42}, "42 is not an HTTP status"),
        ({"expect_status": [200, 600]}, "600 is not an HTTP status"),
        ({"expect_status": []}, "expect_status names at least one status"),
        ({"headers": {"X-Token": {"env": "not a name"}}}, "env"),
        ({"headers": {"X-Token": {"env": "T", "default": "x"}}}, "Extra inputs"),
        ({"surprise": 1}, "Extra inputs"),
    ],
)
def test_http_field_problems(fields: dict[str, Any], problem: str) -> None:
    assert problem in invalid({"checks": [http(**fields)]})


@pytest.mark.parametrize(
    ("check", "problem"),
    [
        ({"type": "tcp", "host": "db", "port": 0}, "greater than or equal to 1"),
        ({"type": "tcp", "host": "db", "port": 70000}, "less than or equal to 65535"),
        ({"type": "tcp", "host": "db; rm -rf /", "port": 1}, "is not a host name or address"),
        ({"type": "dns", "host": "db", "expect_address": "db.internal"}, "is not an IP address"),
        ({"type": "dns", "host": "db", "expect_address": []}, "at least one address"),
        ({"type": "tls", "host": "db", "warn_days": 3, "fail_days": 7}, "fail_days must not"),
        ({"type": "postgres", "dsn_env": "X", "warn_connections": 1.5}, "less than or equal to 1"),
        (
            {"type": "postgres", "dsn_env": "X", "warn_connections": 0.9, "fail_connections": 0.5},
            "warn_connections must not be more than fail_connections",
        ),
        (
            {
                "type": "prometheus",
                "url": "http://p",
                "query": "up",
                "warn_above": 3,
                "fail_above": 2,
            },
            "warn_above must not be more than fail_above",
        ),
        (
            {
                "type": "prometheus",
                "url": "http://p",
                "query": "up",
                "warn_below": 1,
                "fail_below": 2,
            },
            "warn_below must not be less than fail_below",
        ),
        ({"type": "prometheus", "url": "http://p", "query": ""}, "at least 1 character"),
        ({"type": "command", "argv": []}, "at least 1 item"),
        ({"type": "command", "argv": "kubectl get pods"}, "tuple"),
        ({"type": "command", "argv": ["ls"], "env": {"1BAD": "x"}}, "env"),
    ],
)
def test_field_problems_of_each_type(check: dict[str, Any], problem: str) -> None:
    assert problem in invalid({"checks": [{"name": "c", **check}]})


def test_a_host_in_brackets_is_an_address() -> None:
    check = TcpCheck.model_validate({"name": "c", "type": "tcp", "host": "[::1]", "port": 5432})
    assert check.host == "::1"


def test_targets_never_show_secrets() -> None:
    api = HttpCheck.model_validate(
        http(url="https://user:pw@api.example.com/x?token=abc#frag", headers={"A": {"env": "T"}})
    )
    assert api.target() == "GET https://api.example.com/x"
    assert api.env_refs() == ["T"]
    prometheus = PrometheusCheck.model_validate(
        {"name": "p", "type": "prometheus", "url": "https://u:pw@prom:9090", "query": "up"}
    )
    assert "pw" not in prometheus.target()
    db = PostgresCheck.model_validate({"name": "db", "type": "postgres", "dsn_env": "DSN"})
    assert db.target() == "the database in $DSN" and db.env_refs() == ["DSN"]
    command = CommandCheck.model_validate(
        {"name": "c", "type": "command", "argv": ["x"], "env": {"A": "plain", "B": {"env": "S"}}}
    )
    assert command.env_refs() == ["S"]
