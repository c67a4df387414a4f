"""Grafana's webhook contact point: its payload translated, its HMAC signature checked."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.alerts.model import AlertBatch, AlertIn, AlertSource, AlertStatus, Link
from handlers.alerts import AlertCredentials
from handlers.alerts.intake import translate
from tests.handlers.alerts.conftest import BEARER, TOKEN, accepted, fixture, refused

GRAFANA = AlertSource.GRAFANA
SECRET = "grafana-hmac-7f3a"
SIGNED = AlertCredentials(
    token=TOKEN, token_name="WARROOM_ALERT_TOKEN", hmac_secret=SECRET, hmac_secret_name="GF_HMAC"
)
RULE = "https://grafana.example/alerting/grafana/bd6f2k1wz0f7kb/view?orgId=1"
RUNBOOK = "https://runbooks.example/checkout-latency"
COMMON = {
    "alertname": "CheckoutLatencyHigh",
    "grafana_folder": "Payments",
    "service": "checkout",
    "severity": "critical",
}
SUMMARY = "Checkout p99 latency above 2s"


def silence(region: str) -> str:
    return (
        "https://grafana.example/alerting/silence/new?alertmanager=grafana"
        "&matcher=__alert_rule_uid__%3Dbd6f2k1wz0f7kb"
        f"&matcher=region%3D{region}&matcher=service%3Dcheckout&matcher=severity%3Dcritical"
        "&orgId=1"
    )


def translate_fixture(body: dict[str, Any]) -> AlertBatch:
    batch = translate(GRAFANA, body)
    assert isinstance(batch, AlertBatch), batch
    return batch


def test_the_fixture_parses_to_its_batch() -> None:
    body = fixture("grafana/firing.json")
    expected = AlertBatch(
        source=GRAFANA,
        group_key=body["groupKey"],
        status=AlertStatus.FIRING,
        alerts=(
            AlertIn(
                fingerprint="e00cfc585a8a0f39",
                status=AlertStatus.FIRING,
                labels={**COMMON, "region": "eu-west-1"},
                annotations={
                    "description": "checkout p99 latency is 2.41s in eu-west-1 over the last 5m",
                    "runbook_url": RUNBOOK,
                    "summary": SUMMARY,
                },
                starts_at=datetime(2026, 11, 22, 5, 21, 10, 512093, tzinfo=UTC),
                links=(
                    Link("dashboard", "https://grafana.example/d/checkout-overview?orgId=1"),
                    Link(
                        "panel", "https://grafana.example/d/checkout-overview?orgId=1&viewPanel=4"
                    ),
                    Link("rule", RULE),
                    Link("runbook", RUNBOOK),
                    Link("silence", silence("eu-west-1")),
                ),
                values={"A": 2.4117, "C": 1.0},
            ),
            AlertIn(
                fingerprint="184bdc6834e227b5",
                status=AlertStatus.FIRING,
                labels={**COMMON, "region": "us-east-1"},
                annotations={
                    "description": "checkout p99 latency is 2.08s in us-east-1 over the last 5m",
                    "runbook_url": RUNBOOK,
                    "summary": SUMMARY,
                },
                starts_at=datetime(2026, 11, 22, 5, 22, 10, tzinfo=UTC),
                # The empty dashboard and panel links are left out.
                links=(
                    Link("rule", RULE),
                    Link("runbook", RUNBOOK),
                    Link("silence", silence("us-east-1")),
                ),
                values={"A": 2.0803, "C": 1.0},
            ),
        ),
        group_labels={"alertname": "CheckoutLatencyHigh", "grafana_folder": "Payments"},
        common_labels=COMMON,
        common_annotations={"runbook_url": RUNBOOK, "summary": SUMMARY},
        external_url="https://grafana.example/",
        title="[FIRING:2] CheckoutLatencyHigh Payments (checkout critical)",
        description=body["message"],
        receiver="warroom",
    )
    assert translate_fixture(body) == expected


async def test_a_request_without_a_secret_configured_needs_no_signature() -> None:
    batch = await accepted(GRAFANA, fixture("grafana/firing.json"))
    assert len(batch.alerts) == 2


def test_grafana_versions_without_fingerprints_get_the_label_sets_own() -> None:
    body = fixture("grafana/firing.json")
    for alert in body["alerts"]:
        del alert["fingerprint"]
    batch = translate_fixture(body)
    # The same fingerprints Grafana computes when it sends them.
    assert [a.fingerprint for a in batch.alerts] == ["e00cfc585a8a0f39", "184bdc6834e227b5"]


def test_null_values_and_unknown_fields_are_accepted() -> None:
    body = fixture("grafana/firing.json")
    body["alerts"][0]["values"] = None
    body["alerts"][0]["enrichments"] = {"added": "by a later Grafana"}
    body["appVersion"] = "12.3.0"
    assert translate_fixture(body).alerts[0].values == {}


def test_a_resolved_alert_keeps_its_end() -> None:
    body = fixture("grafana/firing.json")
    body["status"] = "resolved"
    body["alerts"] = body["alerts"][:1]
    body["alerts"][0].update(status="resolved", endsAt="2026-11-22T06:40:00+01:00")
    (alert,) = translate_fixture(body).alerts
    assert alert.ends_at == datetime(2026, 11, 22, 5, 40, tzinfo=UTC)


@pytest.mark.parametrize(
    ("key", "value", "field"),
    [
        ("version", "4", "version"),
        ("orgId", "one", "orgId"),
        (
            "alerts",
            [{"status": "firing", "labels": {}, "values": {"A": "high"}}],
            "alerts.0.values.A",
        ),
    ],
)
async def test_a_body_that_is_not_grafanas_is_refused(key: str, value: Any, field: str) -> None:
    body = fixture("grafana/firing.json")
    body[key] = value
    refusal = await refused(GRAFANA, body)
    assert (refusal.status, refusal.error, refusal.field) == (422, "invalid_payload", field)


async def test_an_infinite_value_is_refused() -> None:
    text = json.dumps(fixture("grafana/firing.json")).replace("2.4117", "1e999")
    refusal = await refused(GRAFANA, text.encode())
    assert (refusal.status, refusal.field) == (422, "alerts.0.values.A")


# Signatures ---------------------------------------------------------------------------


def sign(body: bytes, timestamp: str | None = None, secret: str = SECRET) -> str:
    message = body if timestamp is None else f"{timestamp}:".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


BODY = json.dumps(fixture("grafana/firing.json")).encode()


async def test_a_body_signed_as_grafana_signs_it_is_accepted() -> None:
    headers = {**BEARER, "X-Grafana-Alerting-Signature": sign(BODY)}
    batch = await accepted(GRAFANA, BODY, credentials=SIGNED, headers=headers)
    assert batch.group_key.endswith('grafana_folder="Payments"}')


async def test_with_a_timestamp_header_the_timestamp_is_signed_too() -> None:
    headers = {
        **BEARER,
        "X-Grafana-Alerting-Timestamp": "1795331170",
        "X-Grafana-Alerting-Signature": sign(BODY, "1795331170"),
    }
    await accepted(GRAFANA, BODY, credentials=SIGNED, headers=headers)


async def test_upper_case_hex_is_accepted() -> None:
    headers = {**BEARER, "X-Grafana-Alerting-Signature": sign(BODY).upper()}
    await accepted(GRAFANA, BODY, credentials=SIGNED, headers=headers)


@pytest.mark.parametrize(
    "signature_headers",
    [
        {},
        {"X-Grafana-Alerting-Signature": ""},
        {"X-Grafana-Alerting-Signature": sign(BODY, secret="another secret")},
        {"X-Grafana-Alerting-Signature": sign(BODY + b" ")},
        {"X-Grafana-Alerting-Signature": "sha256=" + sign(BODY)},
        {"X-Grafana-Alerting-Signature": "zz" * 32},
        {"X-Grafana-Alerting-Signature": "é" * 64},
        # Signed without the timestamp it arrived with: not what Grafana sends.
        {"X-Grafana-Alerting-Timestamp": "1795331170", "X-Grafana-Alerting-Signature": sign(BODY)},
        # A timestamp changed on the way.
        {
            "X-Grafana-Alerting-Timestamp": "1795331171",
            "X-Grafana-Alerting-Signature": sign(BODY, "1795331170"),
        },
    ],
    ids=[
        "missing",
        "empty",
        "other-secret",
        "other-body",
        "prefixed",
        "not-hex",
        "not-ascii",
        "timestamp-not-signed",
        "timestamp-changed",
    ],
)
async def test_a_missing_or_bad_signature_is_refused(signature_headers: dict[str, str]) -> None:
    refusal = await refused(
        GRAFANA, BODY, credentials=SIGNED, headers={**BEARER, **signature_headers}
    )
    assert (refusal.status, refusal.error) == (401, "invalid_signature")


async def test_the_signature_is_checked_before_the_body_is_parsed() -> None:
    refusal = await refused(GRAFANA, b"{not json", credentials=SIGNED, headers=BEARER)
    assert refusal.status == 401
    headers = {**BEARER, "X-Grafana-Alerting-Signature": sign(b"{not json")}
    refusal = await refused(GRAFANA, b"{not json", credentials=SIGNED, headers=headers)
    assert (refusal.status, refusal.error) == (400, "invalid_json")


async def test_the_bearer_is_checked_before_the_signature() -> None:
    headers = {"X-Grafana-Alerting-Signature": sign(BODY)}
    refusal = await refused(GRAFANA, BODY, credentials=SIGNED, headers=headers)
    assert (refusal.status, refusal.error) == (401, "unauthorized")


async def test_a_secret_the_policy_names_but_the_environment_lacks_is_a_503() -> None:
    unset = AlertCredentials(
        token=TOKEN, token_name="WARROOM_ALERT_TOKEN", hmac_secret=None, hmac_secret_name="GF_HMAC"
    )
    refusal = await refused(GRAFANA, BODY, credentials=unset)
    assert (refusal.status, refusal.error) == (503, "alerts_not_configured")
    assert refusal.detail.startswith("set GF_HMAC ")
